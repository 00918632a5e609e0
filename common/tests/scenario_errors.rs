//! Every kind of bad scenario input is refused before any load is sent, with a
//! one-line lowercase message naming file:line:col, followed by a snippet.

use stampede_common::scenario::{ScenarioError, ScenarioSource};

fn error_of(yaml: &str) -> ScenarioError {
    ScenarioSource::from_text("s.yaml", yaml)
        .compile()
        .expect_err("scenario should be refused")
}

/// (what, yaml, expected first line of the error)
const CASES: &[(&str, &str, &str)] = &[
    (
        "arrival rate without max_users",
        "arrival_rate: {rate: 10/s, duration: 1m}\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
        "s.yaml:1:15: `arrival_rate` needs `max_users`: the most virtual users it may start",
    ),
    (
        "arrival rate that does not parse",
        "arrival_rate: {rate: fast, duration: 1m, max_users: 5}\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
        "s.yaml:1:22: invalid rate `fast`: expected iterations per time unit, e.g. 500/s or 30/m",
    ),
    (
        "arrival rate with both rate and stages",
        "arrival_rate:\n  rate: 5/s\n  stages: [{duration: 1m, target: 5/s}]\n  max_users: 5\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
        "s.yaml:2:3: `arrival_rate` takes either `rate` and `duration` or `stages`, not both",
    ),
    (
        "arrival rate and stages together",
        "stages: [{duration: 1m, target: 5}]\narrival_rate: {rate: 5/s, duration: 1m, max_users: 5}\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
        "s.yaml:2:15: `arrival_rate` and `stages` cannot both be set (the open and the closed model)",
    ),
    (
        "arrival rate with zero max_users",
        "arrival_rate: {rate: 5/s, duration: 1m, max_users: 0}\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
        "s.yaml:1:52: `max_users` must be at least 1",
    ),
    (
        "arrival rate that never starts an iteration",
        "arrival_rate:\n  stages: [{duration: 1m, target: 0/s}]\n  max_users: 5\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
        "s.yaml:2:3: `arrival_rate` never starts an iteration (every rate is 0)",
    ),
    (
        "fixed_count with an arrival rate",
        "arrival_rate: {rate: 5/s, duration: 1m, max_users: 5}\nusers:\n  - name: A\n    fixed_count: 2\n    sequence: [{get: /}]\n",
        "s.yaml:4:18: `fixed_count` does not apply with `arrival_rate` (iterations are shared by weight)",
    ),
    (
        "arrival stage of zero length",
        "arrival_rate:\n  stages: [{duration: 0s, target: 5/s}]\n  max_users: 5\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
        "s.yaml:2:23: a stage lasts zero time",
    ),
    (
        "unknown key",
        "users:\n  - name: A\n    wiat: {constant: 1s}\n    sequence: [{get: /}]\n",
        "s.yaml:3:5: unknown field `wiat`",
    ),
    (
        "unknown key in a step",
        "users:\n  - name: A\n    sequence:\n      - get: /\n        jsn: {a: 1}\n",
        "s.yaml:5:9: unknown field `jsn`",
    ),
    (
        "bad duration",
        "users:\n  - name: A\n    wait: {constant: 5 parsecs}\n    sequence: [{get: /}]\n",
        "s.yaml:3:22: invalid duration `5 parsecs`: expected a number with a unit such as 500ms, 1.5s, 2m or 1h30m",
    ),
    (
        "undefined variable",
        "users:\n  - name: A\n    sequence:\n      - get: /\n        headers: {Authorization: \"Bearer {{ tokn }}\"}\n",
        "s.yaml:5:34: undefined variable `tokn`",
    ),
    (
        "unknown template function",
        "users:\n  - name: A\n    sequence:\n      - get: \"/p/{{ random_integer(1, 2) }}\"\n",
        "s.yaml:4:14: unknown template function `random_integer` (known: random_int, random_float, random_choice, random_string, uuid, now, timestamp, timestamp_ms)",
    ),
    (
        "template syntax error",
        "users:\n  - name: A\n    sequence:\n      - get: \"/p/{{ 1 + }}\"\n",
        "s.yaml:4:14: template syntax error: unexpected end of variable block",
    ),
    (
        "bad jsonpath",
        "users:\n  - name: A\n    sequence:\n      - get: /\n        extract:\n          t: {jsonpath: \"$..[\"}\n",
        "s.yaml:6:25: invalid jsonpath `$..[`",
    ),
    (
        "sequence with no steps",
        "users:\n  - name: A\n    sequence: []\n",
        "s.yaml:3:15: `sequence` has no steps",
    ),
    (
        "neither sequence nor tasks",
        "users:\n  - name: A\n    wait: {constant: 1s}\n",
        "s.yaml:2:5: user class `A` has neither `sequence` nor `tasks`",
    ),
    (
        "step with no action",
        "users:\n  - name: A\n    sequence:\n      - name: nothing\n",
        "s.yaml:4:9: step has no action: expected one of get, post, put, patch, delete, head, options, set_headers, set, sleep",
    ),
    (
        "step with two actions",
        "users:\n  - name: A\n    sequence:\n      - get: /\n        post: /\n",
        "s.yaml:4:9: step has more than one action (`get` and `post`)",
    ),
    (
        "two wait kinds",
        "users:\n  - name: A\n    wait: {constant: 1s, between: [1s, 2s]}\n    sequence: [{get: /}]\n",
        "s.yaml:3:11: `wait` takes exactly one of between, constant, constant_pacing, constant_throughput",
    ),
    (
        "between upside down",
        "users:\n  - name: A\n    wait: {between: [5s, 1s]}\n    sequence: [{get: /}]\n",
        "s.yaml:3:26: `between` upper bound is below the lower bound",
    ),
    (
        "relative path without slash",
        "users:\n  - name: A\n    sequence: [{get: api/x}]\n",
        "s.yaml:3:22: request target `api/x` must be a path starting with `/` or a full http:// or https:// url",
    ),
    (
        "weight and fixed_count",
        "users:\n  - name: A\n    weight: 2\n    fixed_count: 3\n    sequence: [{get: /}]\n",
        "s.yaml:4:18: `weight` and `fixed_count` cannot both be set",
    ),
    (
        "request option on a non-request step",
        "users:\n  - name: A\n    sequence:\n      - sleep: 1s\n        json: {a: 1}\n",
        "s.yaml:4:9: `json` only applies to a request step",
    ),
    (
        "expected status out of range",
        "users:\n  - name: A\n    sequence:\n      - get: /\n        expect: {status: 999}\n",
        "s.yaml:5:17: expected status 999 is not an http status code",
    ),
    (
        "bad regex",
        "users:\n  - name: A\n    sequence:\n      - get: /\n        extract: {id: {regex: \"(\"}}\n",
        "s.yaml:5:31: invalid regex: regex parse error:",
    ),
    (
        "ordered steps under tasks",
        "users:\n  - name: A\n    tasks:\n      sequence:\n        - get: /\n",
        "s.yaml:4:7: `tasks` must be a list of `{weight, steps}`; ordered steps go under `sequence:` on the user",
    ),
    (
        "tasks as text",
        "users:\n  - name: A\n    tasks: lots\n",
        "s.yaml:3:12: `tasks` must be a list of `{weight, steps}`; ordered steps go under `sequence:` on the user",
    ),
    (
        "tasks as a number",
        "users:\n  - name: A\n    tasks: 3\n",
        "s.yaml:3:12: `tasks` must be a list of `{weight, steps}`; ordered steps go under `sequence:` on the user",
    ),
    (
        "duplicate class",
        "users:\n  - name: A\n    sequence: [{get: /}]\n  - name: A\n    sequence: [{get: /}]\n",
        "s.yaml:4:11: duplicate user class `A`",
    ),
    (
        "bad host",
        "host: localhost:8000\nusers:\n  - name: A\n    sequence: [{get: /}]\n",
        "s.yaml:1:7: invalid host `localhost:8000`: expected a url like http://127.0.0.1:8000",
    ),
    (
        "feeder file not loaded",
        "users:\n  - name: A\n    data: {file: users.csv}\n    sequence: [{get: /}]\n",
        "s.yaml:3:18: data file `users.csv` was not loaded",
    ),
    (
        "wrong type",
        "users:\n  - name: A\n    weight: many\n    sequence: [{get: /}]\n",
        "s.yaml:3:13: ",
    ),
    ("yaml syntax error", "users: [\n", "s.yaml:"),
    (
        "no users",
        "users: []\n",
        "s.yaml:1:8: `users` has no user class",
    ),
];

#[test]
fn each_bad_input_names_file_line_col() {
    let mut wrong = Vec::new();
    for (what, yaml, want) in CASES {
        let err = error_of(yaml);
        let got = err.to_string();
        if !got.starts_with(want) {
            wrong.push(format!("{what}:\n  want: {want}\n  got:  {got}"));
        }
        assert!(
            !got.contains('\n'),
            "{what}: the first line must be one line: {got}"
        );
        let rendered = err.render();
        if matches!(err, ScenarioError::At { .. }) {
            assert!(rendered.contains(" | "), "{what}: no snippet in {rendered}");
            assert!(rendered.contains('^'), "{what}: no caret in {rendered}");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn messages_are_lowercase() {
    for (what, yaml, _) in CASES {
        let got = error_of(yaml).to_string();
        let message = got.splitn(4, ':').nth(3).unwrap_or(&got).trim();
        let first = message.chars().next().unwrap_or('x');
        assert!(!first.is_uppercase(), "{what}: {message}");
        assert!(!message.ends_with('.'), "{what}: {message}");
    }
}

#[test]
fn missing_data_file_is_reported_by_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(
        &path,
        "users:\n  - name: A\n    data: {file: nope.csv}\n    sequence: [{get: /}]\n",
    )
    .unwrap();
    let err = ScenarioSource::read(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("s.yaml:3:18: cannot read data file"), "{err}");
    let err = ScenarioSource::read("/nonexistent/x.yaml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "/nonexistent/x.yaml: cannot read: no such file or directory (os error 2)"
    );
}

#[test]
fn the_seed_scenarios_compile() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    for name in ["shop", "browse", "order", "payment"] {
        let src = ScenarioSource::read(&format!("{dir}/{name}.yaml")).unwrap();
        let s = src
            .compile()
            .unwrap_or_else(|e| panic!("{name}: {}", e.render()));
        assert_eq!(s.name, name);
    }
    let payment = ScenarioSource::read(&format!("{dir}/payment.yaml"))
        .unwrap()
        .compile()
        .unwrap();
    let feeder = payment.classes[0].feeder.as_ref().unwrap();
    assert_eq!(feeder.columns, vec!["username", "password"]);
    assert_eq!(feeder.rows.len(), 1000);
    assert_eq!(feeder.row_for(1003)[0], "load_test_user_3");
    assert!(
        payment
            .stat_keys
            .iter()
            .any(|k| k.name == "/api/payments/confirm/ [Concurrent]")
    );
}
