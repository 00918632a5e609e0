//! Bad scripts and bad control flow are refused before any load, each with
//! one lowercase line naming the scenario's file:line:col and, for a script,
//! the script's own file and line.

use std::collections::BTreeMap;

use stampede_common::scenario::ScenarioSource;

fn error_of(yaml: &str, files: &[(&str, &str)]) -> String {
    let src = ScenarioSource {
        path: "s.yaml".into(),
        text: yaml.into(),
        files: files
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    };
    let e = src.compile().expect_err("scenario should be refused");
    let line = e.to_string();
    assert!(!line.contains('\n'), "one line: {line}");
    line
}

const SEQ: &str = "    sequence: [{get: /}]\n";

#[test]
fn a_syntax_error_in_a_script_file_names_both_places() {
    let yaml = format!("scripts: [lib.luau]\nusers:\n  - name: A\n{SEQ}");
    let e = error_of(&yaml, &[("lib.luau", "function f()\n  return 1 +\nend\n")]);
    assert!(
        e.starts_with(
            "s.yaml:1:11: script lib.luau:3: expected identifier when parsing expression, got 'end'"
        ),
        "{e}"
    );
}

#[test]
fn an_error_in_an_inline_block_points_at_the_scenario_line() {
    let yaml =
        format!("script: |\n  function f()\n    return nil +\n  end\nusers:\n  - name: A\n{SEQ}");
    let e = error_of(&yaml, &[]);
    assert!(
        e.starts_with("s.yaml:4:3: script: expected identifier"),
        "{e}"
    );
    let yaml = format!("script: |\n  local t = {{}}\n  t.x.y = 1\nusers:\n  - name: A\n{SEQ}");
    let e = error_of(&yaml, &[]);
    assert!(
        e.starts_with("s.yaml:3:3: script: attempt to index nil"),
        "{e}"
    );
}

#[test]
fn a_script_step_error_points_at_its_line() {
    let yaml = "users:\n  - name: A\n    sequence:\n      - get: /\n      - script: |\n          local x = 1\n          x = = 2\n";
    let e = error_of(yaml, &[]);
    assert!(e.starts_with("s.yaml:7:11: script: expected"), "{e}");
}

#[test]
fn calls_to_functions_that_do_not_exist_are_named() {
    let yaml = "script: \"function sign(a) return a end\"\nusers:\n  - name: A\n    sequence:\n      - get: \"/{{ sgn(1) }}\"\n";
    let e = error_of(yaml, &[]);
    assert!(
        e.starts_with("s.yaml:5:14: unknown template function `sgn` (known: "),
        "{e}"
    );
    assert!(e.ends_with(", sign)"), "{e}");
    let yaml = format!(
        "shape: grow\nscript: \"function shape(t) return nil end\"\nusers:\n  - name: A\n{SEQ}"
    );
    let e = error_of(&yaml, &[]);
    assert_eq!(
        e,
        "s.yaml:1:8: `shape` names `grow`, which no script of the scenario defines"
    );
    let yaml = format!("shape: grow\nusers:\n  - name: A\n{SEQ}");
    let e = error_of(&yaml, &[]);
    assert_eq!(
        e,
        "s.yaml:1:8: `shape` names `grow`, which no script of the scenario defines"
    );
}

#[test]
fn scripted_classes_are_checked() {
    let yaml = "users:\n  - name: A\n    script: u.luau\n";
    let e = error_of(yaml, &[("u.luau", "function on_start(user) end\n")]);
    assert_eq!(
        e,
        "s.yaml:3:13: script u.luau: defines no task: write functions of the user, or a `tasks` table"
    );
    let e = error_of(
        yaml,
        &[("u.luau", "function a(user) end\ntasks = { b = 1 }\n")],
    );
    assert_eq!(
        e,
        "s.yaml:3:13: script u.luau: `tasks` names `b`, which is not a function of the script"
    );
    let yaml = format!("users:\n  - name: A\n    script: u.luau\n{SEQ}");
    let e = error_of(&yaml, &[("u.luau", "function a(user) end\n")]);
    assert_eq!(
        e,
        "s.yaml:3:13: a scripted user has no `sequence`: its script defines on_start, its tasks and on_stop"
    );
}

#[test]
fn loops_need_a_bound_and_flow_keys_their_step() {
    let cases = [
        (
            "users:\n  - name: A\n    sequence:\n      - loop: {while: \"true\"}\n        steps: [{get: /}]\n",
            "s.yaml:4:15: `loop` needs `max:`, the most passes it may make (a guard against a loop that never ends)",
        ),
        (
            "users:\n  - name: A\n    sequence:\n      - loop: {while: \"true\", until: \"false\", max: 3}\n        steps: [{get: /}]\n",
            "s.yaml:4:15: `loop` takes exactly one of while, until, times, for_each",
        ),
        (
            "users:\n  - name: A\n    sequence:\n      - loop: {times: 3}\n",
            "s.yaml:4:9: `loop` needs `steps:`",
        ),
        (
            "users:\n  - name: A\n    sequence:\n      - get: /\n        then: [{get: /}]\n",
            "s.yaml:4:9: `then` only applies to an `if` step",
        ),
        (
            "users:\n  - name: A\n    sequence:\n      - sleep: 1s\n        retry: {attempts: 3}\n",
            "s.yaml:4:9: `retry` only applies to a request step",
        ),
        (
            "users:\n  - name: A\n    sequence:\n      - if: \"x ==\"\n        then: [{get: /}]\n",
            "s.yaml:4:13: template syntax error: unexpected end of input, expected expression",
        ),
        (
            "users:\n  - name: A\n    sequence:\n      - if: \"missing > 1\"\n        then: [{get: /}]\n",
            "s.yaml:4:13: undefined variable `missing`",
        ),
        (
            "users:\n  - name: A\n    sequence:\n      - get: /\n        retry: {attempts: 0}\n",
            "s.yaml:5:27: `attempts` must be from 1 to 1000",
        ),
        (
            "script_limits: {instructions: 10}\nscript: \"function f() end\"\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
            "s.yaml:1:31: `instructions` must be at least 1000",
        ),
        (
            "script_limits: {memory_mb: 8}\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
            "s.yaml:1:16: `script_limits` without any script",
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(error_of(yaml, &[]), want, "{yaml}");
    }
}

#[test]
fn a_missing_script_file_is_named_where_the_scenario_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        "scripts: [nope.luau]\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
    )
    .unwrap();
    let e = ScenarioSource::read(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("s.yaml:1:11: cannot read script `"), "{e}");
    assert!(
        e.ends_with("nope.luau`: no such file or directory (os error 2)"),
        "{e}"
    );
}
