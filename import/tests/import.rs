//! The importer on real locustfiles: the seed's two files as written in the
//! plan, a file with every construct it translates, and one with what it
//! cannot; each output must compile as a scenario.

use stampede_common::scenario::{ScenarioSource, Tasks};
use stampede_import::import;

fn file(name: &str) -> String {
    let path = format!("{}/tests/locustfiles/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn compiles(yaml: &str) -> stampede_common::scenario::Scenario {
    ScenarioSource::from_text("imported.yaml", yaml)
        .compile()
        .unwrap_or_else(|e| panic!("{}\n{yaml}", e.render()))
}

#[test]
fn the_seed_locustfile_translates_whole_with_its_bugs() {
    let out = import("locustfile.py", "locustfile", &file("seed_locustfile.py")).unwrap();
    assert!(out.untranslated.is_empty(), "{:?}", out.untranslated);
    let y = &out.yaml;
    // Bug 1 of the seed kept: users 1..1000 (the shop has 0..999).
    assert!(
        y.contains(r#""username":"load_test_user_{{ random_int(1, 1000) }}""#),
        "{y}"
    );
    // Bug 2 kept: a random order id with a fixed amount.
    assert!(
        y.contains(r#""order_id":"ORDER_{{ random_int(1, 10000) }}""#),
        "{y}"
    );
    assert!(y.contains("wait: {between: [1s, 5s]}"), "{y}");
    assert!(
        y.contains("# line 19: self.login(), inlined from line 21"),
        "{y}"
    );
    let s = compiles(y);
    let class = &s.classes[0];
    assert_eq!(class.name, "WebsiteUser");
    assert_eq!(
        class.on_start.len(),
        2,
        "the login and the if on its status"
    );
    let Tasks::Sequence(steps) = &class.tasks else {
        panic!("a SequentialTaskSet is a sequence")
    };
    assert_eq!(steps.len(), 5, "five tasks in order");
}

#[test]
fn the_seed_payment_scenario_translates_whole() {
    let out = import("payment.py", "payment", &file("seed_payment.py")).unwrap();
    assert!(out.untranslated.is_empty(), "{:?}", out.untranslated);
    assert!(
        out.yaml
            .contains(r#"name: "/api/payments/confirm/ [Concurrent]""#)
    );
    assert!(
        out.yaml.contains("perf_user_{{ random_int(1, 1000) }}"),
        "the seed's bug, faithfully"
    );
    let s = compiles(&out.yaml);
    assert_eq!(s.stat_keys.len(), 2);
}

#[test]
fn every_translated_construct_compiles() {
    let out = import("constructs.py", "constructs", &file("constructs.py")).unwrap();
    assert!(
        out.untranslated.is_empty(),
        "{:?}\n{}",
        out.untranslated,
        out.yaml
    );
    let y = &out.yaml;
    for want in [
        r#"host: "http://127.0.0.1:1""#,
        "weight: 2",
        "fixed_count: 1",
        "wait: {between: [10ms, 20ms]}",
        "wait: {constant: 0s}",
        r#"- post: "{{ (API ~ \"/cart\") }}""#,
        r#"query: {"page": "1", "size": "{{ PAGE_SIZE }}"}"#,
        r#"expect: {status: [200]}"#,
        r#"expect: {body_contains: "ok"}"#,
        r#"set_headers: {"X-Trace": "t-1"}"#,
        "timeout: 5s",
        "allow_redirects: false",
        r#"form: {"state": "go"}"#,
        r#"body: "raw body""#,
        "- loop: {times: 2}",
        r#"- options: "/cors""#,
        r#""id":"{{ uuid() }}""#,
        r#""at":"{{ timestamp() }}""#,
        "- sleep: 10ms",
        r#"tags: ["list"]"#,
        r#"- get: "/fn"  # line 93"#,
        "r_token: {jsonpath: \"$.token\", default: null}",
        "- if: \"(r_state == \\\"ready\\\")\"",
    ] {
        assert!(y.contains(want), "missing {want}\n{y}");
    }
    let s = compiles(y);
    let names: Vec<&str> = s.classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Shopper", "Visitor", "Api", "Fn"]);
    assert_eq!(
        s.host.as_ref().map(|h| h.as_str()),
        Some("http://127.0.0.1:1")
    );
    match &s.classes[1].tasks {
        Tasks::Weighted { tasks, .. } => {
            let w: Vec<u32> = tasks.iter().map(|t| t.weight).collect();
            assert_eq!(w, [3, 1], "a TaskSet's tasks keep their odds");
        }
        _ => panic!("a TaskSet is weighted tasks"),
    }
    assert_eq!(s.classes[0].on_stop.len(), 1);
}

#[test]
fn what_cannot_be_translated_is_named_with_its_line() {
    let out = import("db.py", "db", &file("untranslatable.py")).unwrap();
    let got: Vec<(usize, &str)> = out
        .untranslated
        .iter()
        .map(|u| (u.line, u.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (3, "the module `psycopg2` has no equivalent"),
            (7, "event hooks have no equivalent"),
            (15, "`psycopg2.connect(...)` has no equivalent"),
            (17, "try/except has no equivalent"),
        ],
        "{:?}",
        out.untranslated
    );
    // An import the file never uses is dropped with a note, not an error.
    assert!(
        out.yaml
            .contains("# line 1: `threading` from `threading` is imported but never used: dropped")
    );
    // Kept as comments, and the rest still runs.
    assert!(
        out.yaml
            .contains("# untranslated (line 17): try:  -- try/except has no equivalent")
    );
    compiles(&out.yaml);
}

#[test]
fn bad_python_and_files_without_users_are_errors() {
    let e = import(
        "bad.py",
        "bad",
        "class A(HttpUser):\n    def f(self)\n        pass\n",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("bad.py:2:16: python syntax error: expected `:`, found newline"),
        "{e}"
    );
    let e = import("none.py", "none", "x = 1\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "none.py: no user class (a subclass of HttpUser or FastHttpUser) to import"
    );
}

#[test]
fn tags_on_a_sequence_s_tasks_are_kept() {
    let py = r#"
from locust import HttpUser, SequentialTaskSet, tag, task

class Flow(SequentialTaskSet):
    @tag("a")
    @task
    def one(self):
        self.client.get("/one")

    @task
    def two(self):
        self.client.get("/two")

class U(HttpUser):
    tasks = [Flow]
"#;
    let out = import("seq.py", "seq", py).unwrap();
    assert!(out.untranslated.is_empty(), "{:?}", out.untranslated);
    assert!(out.yaml.contains("        tags: [\"a\"]"), "{}", out.yaml);
    let mut s = compiles(&out.yaml);
    s.select_tags(&stampede_common::run::TagFilter {
        include: vec!["a".into()],
        exclude: vec![],
    })
    .unwrap();
    let Tasks::Sequence(steps) = &s.classes[0].tasks else {
        panic!("a sequence")
    };
    assert_eq!(steps.len(), 1, "only the tagged task under --tags a");
}

#[test]
fn nested_task_sets_flatten_with_their_weights() {
    let py = r#"
from locust import HttpUser, TaskSet, task

class Inner(TaskSet):
    @task(2)
    def deep(self):
        self.client.get("/deep")
        self.interrupt()

class Outer(TaskSet):
    tasks = {Inner: 3}

    @task
    def top(self):
        self.client.get("/top")

class U(HttpUser):
    tasks = [Outer]
"#;
    let out = import("nested.py", "nested", py).unwrap();
    assert!(out.untranslated.is_empty(), "{:?}", out.untranslated);
    let s = compiles(&out.yaml);
    let Tasks::Weighted { tasks, .. } = &s.classes[0].tasks else {
        panic!("weighted")
    };
    let got: Vec<(String, u32)> = tasks
        .iter()
        .map(|t| (t.name.clone().unwrap_or_default(), t.weight))
        .collect();
    // Locust picks Inner 3 times in 4, then its one task: top 1, deep 3.
    assert_eq!(
        got,
        [("top".to_owned(), 1), ("deep".to_owned(), 3)],
        "{}",
        out.yaml
    );
}

#[test]
fn helpers_with_arguments_and_returns_are_inlined() {
    let out = import("helpers.py", "helpers", &file("helpers.py")).unwrap();
    assert!(out.untranslated.is_empty(), "{:?}", out.untranslated);
    let y = &out.yaml;
    for want in [
        // A one-`return` helper, its parameter the call's argument.
        r#"get: "{{ BASE }}/items/A-1""#,
        // Helpers calling helpers, a default argument, keyword arguments.
        r#""X-Trace": "h-1""#,
        r#"json: {"quantity":3,"sku":"B-2"}"#,
        // A module function taking the user, its return assigned to self.
        "# line 29: login(), inlined from line 19",
        r#"- set: {token: "{{ r_token }}"}"#,
        // A helper returning a response.
        r#"headers: {"X-Trace": "get-2"}"#,
    ] {
        assert!(y.contains(want), "{want}\n{y}");
    }
    compiles(y);
}

#[test]
fn helpers_that_cannot_be_inlined_are_named_with_their_line() {
    let py = r#"
from locust import HttpUser, task

def many(*paths):
    return paths[0]

def unused(x):
    return x

class U(HttpUser):
    def again(self):
        self.again()

    def bump(self, n):
        n = n + 1
        self.client.get(f"/n/{n}")

    def nothing(self):
        self.client.get("/x")

    @task
    def t(self):
        many("/a")
        self.again()
        self.bump(1)
        v = self.nothing()
        self.nothing(1)
"#;
    let out = import("h.py", "h", py).unwrap();
    let got: Vec<(usize, &str)> = out
        .untranslated
        .iter()
        .map(|u| (u.line, u.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            // Found where the helper calls itself.
            (12, "a recursive helper has no equivalent"),
            (23, "a helper with *args or **kwargs is not inlined"),
            (
                25,
                "a helper that assigns to its parameter `n` is not inlined"
            ),
            (26, "the helper returns nothing at its end"),
            (27, "a helper called with more arguments than it takes"),
        ],
        "{}",
        out.yaml
    );
    assert!(
        out.yaml
            .contains("# line 7: `unused` is defined but no task calls it: dropped"),
        "{}",
        out.yaml
    );
    compiles(&out.yaml);
}
