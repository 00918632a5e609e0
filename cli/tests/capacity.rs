//! Capacity search (`--capacity`) against a shop whose capacity is known:
//! `stampede shop --latency 50ms --concurrency 10` serves at most 10
//! requests at once, 50 ms each, so 200 requests per second. The search
//! finds it within 10%, in one process and with a master and two worker
//! processes; its JSON carries each step's report, its JUnit reads back in
//! junitparser, its Markdown and HTML hold the steps; `-t` bounds it,
//! `--min-capacity` gates it, and bad input is refused before any load.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::junit::junit_cases;
use common::{ShopProcess, logged_stampede, master_addr, stampede, worker_process};
use serde_json::Value;

const SCENARIO: &str = "name: capacity-test
users:
  - name: U
    sequence:
      - get: /api/products/
        name: list
";

/// The shop's capacity, requests per second (10 at once, 50 ms each).
const CAPACITY: f64 = 200.0;

/// The flags every search here shares: 2 s steps up to 800/s, judged by a
/// p95 of at most twice the service time (a queue that grows for 2 s past
/// capacity breaks it; one below capacity does not).
const SEARCH: [&str; 10] = [
    "--headless",
    "--capacity",
    "--max-rate",
    "800/s",
    "--step-time",
    "2s",
    "--threshold",
    "p95<100ms",
    "--only-summary",
    "--precision=4",
];

fn shop() -> ShopProcess {
    ShopProcess::start(&["--latency", "50ms", "--concurrency", "10"])
}

fn scenario(dir: &Path) -> String {
    let path = dir.join("s.yaml");
    std::fs::write(&path, SCENARIO).unwrap();
    path.display().to_string()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks the capacity document: found within 10% of the shop's capacity,
/// every step with its own run report on `workers` workers, the rates that
/// held below the ones that failed.
fn check_found(doc: &Value, workers: u64) -> f64 {
    assert_eq!(doc["schema"], "stampede-capacity/1");
    assert_eq!(doc["result"]["end"], "found", "{}", doc["result"]);
    assert_eq!(doc["result"]["passed"], true);
    let capacity = doc["result"]["capacity"].as_f64().unwrap();
    assert!(
        (capacity - CAPACITY).abs() <= CAPACITY * 0.10,
        "found {capacity}/s, the shop serves {CAPACITY}/s: {}",
        doc["result"]["verdict"]
    );
    let failed = doc["result"]["failed_rate"].as_f64().unwrap();
    assert!(failed > capacity && failed <= capacity * 1.05, "{failed}");
    let steps = doc["steps"].as_array().unwrap();
    assert!(steps.len() >= 5, "ramp then bisect: {}", steps.len());
    assert_eq!(steps[0]["phase"], "ramp");
    assert!(steps.iter().any(|s| s["phase"] == "bisect"));
    for s in steps {
        let rate = s["rate"].as_f64().unwrap();
        let report = &s["report"];
        assert_eq!(report["schema"], "stampede-report/2");
        assert_eq!(report["run"]["workers"].as_u64(), Some(workers), "{rate}");
        assert_eq!(report["run"]["load"]["model"], "arrival_rate", "{rate}");
        assert_eq!(
            report["passed"], s["held"],
            "a step holds when its thresholds do"
        );
        assert!(report["total"]["histogram"].is_string());
        let sent = report["total"]["requests"].as_f64().unwrap();
        assert!(
            (sent - rate * 2.0).abs() <= rate * 0.1 + 2.0,
            "step at {rate}/s sent {sent} requests in 2 s"
        );
        if s["held"] == true {
            assert!(rate <= capacity);
            assert!(s["percentiles_ms"]["p95"].as_f64().unwrap() < 100.0);
        } else {
            assert!(rate >= failed);
            assert!(!s["failed_because"].as_array().unwrap().is_empty());
        }
    }
    capacity
}

#[test]
fn a_search_in_one_process_finds_the_shops_capacity() {
    let shop = shop();
    let dir = tempfile::tempdir().unwrap();
    let (json, html, junit, md) = (
        dir.path().join("cap.json"),
        dir.path().join("cap.html"),
        dir.path().join("cap.xml"),
        dir.path().join("cap.md"),
    );
    let out = stampede()
        .args(["run", "-f", &scenario(dir.path()), "--host", &shop.url])
        .args(SEARCH)
        .arg("--json")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .arg("--junit")
        .arg(&junit)
        .arg("--summary-md")
        .arg(&md)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = read_json(&json);
    let capacity = check_found(&doc, 1);
    let steps = doc["steps"].as_array().unwrap().len();
    assert!(
        stdout.contains(&format!(
            "capacity {capacity}/s: the highest rate that held"
        )),
        "{stdout}"
    );

    // JUnit: the search, then a passed case per step that says how it went.
    let cases = junit_cases(&junit);
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), steps + 1);
    assert_eq!(cases[0][0], "capacity");
    assert_eq!(cases[0][2], 0, "no failures");
    assert_eq!(cases[0][3], "capacity-test");
    assert_eq!(cases[0][4], "a rate holds every threshold");
    assert!(cases[0][5].is_null());
    for (i, c) in cases[1..].iter().enumerate() {
        let name = c[4].as_str().unwrap();
        assert!(name.starts_with(&format!("step {}: ", i + 1)), "{name}");
        assert!(
            name.contains(" held") || name.contains(" did not hold: p95<100ms"),
            "{name}"
        );
    }

    // Markdown: the verdict and a row per step.
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.starts_with("### stampede capacity: `capacity-test` (passed)\n"),
        "{md}"
    );
    assert!(md.contains(&format!(
        "**capacity {capacity}/s: the highest rate that held"
    )));
    assert_eq!(
        md.lines()
            .filter(|l| l.starts_with("| ") && l.ends_with(" |"))
            .count(),
        steps + 1
    );

    // HTML: one well-formed page that loads nothing, three charts against
    // the rate, a row per step (held or failed, as the JSON says).
    let page = common::html::parse_self_contained(&html, std::slice::from_ref(&shop.url));
    assert_eq!(page["charts"], 3, "{page}");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        html.matches("<tr class=\"step ").count(),
        steps,
        "a row per step"
    );
    let held = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["held"] == true)
        .count();
    assert_eq!(html.matches("<tr class=\"step held\"").count(), held);
    assert_eq!(
        html.matches("<tr class=\"step failed\"").count(),
        steps - held
    );
}

#[test]
fn a_search_with_a_master_and_two_workers_finds_the_shops_capacity() {
    let shop = shop();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cap.json");
    let mut master = logged_stampede()
        .args(["master", "-f", &scenario(dir.path()), "--host", &shop.url])
        .args(SEARCH)
        .args(["--expect-workers", "2", "--expect-workers-max-wait", "60s"])
        .args(["--bind", "127.0.0.1:0", "--json"])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = master_addr(&mut master);
    let _workers = [worker_process(&addr, "w0"), worker_process(&addr, "w1")];
    let out = master.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    check_found(&read_json(&json), 2);
}

#[test]
fn the_run_time_bounds_the_search_and_min_capacity_gates_it() {
    let shop = shop();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cap.json");
    // Two 2 s steps fit in 5 s, a third does not: the search stops with
    // what it knows. 50/s and 100/s hold, so the capacity is at least 100/s,
    // below the 150/s asked for: exit 1.
    let out = stampede()
        .args(["run", "-f", &scenario(dir.path()), "--host", &shop.url])
        .args(SEARCH)
        .args([
            "-t",
            "5s",
            "--start-rate",
            "50/s",
            "--min-capacity",
            "150/s",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let doc = read_json(&json);
    assert_eq!(doc["result"]["end"], "run_time");
    assert_eq!(doc["result"]["passed"], false);
    assert_eq!(doc["result"]["capacity"], 100.0);
    assert_eq!(doc["steps"].as_array().unwrap().len(), 2);
    assert!(
        stdout.contains("capacity at least 100/s (the run time was up before the search narrowed to its precision); below --min-capacity 150/s"),
        "{stdout}"
    );
}

#[test]
fn bad_searches_are_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path());
    let base = [
        "run",
        "-f",
        &file,
        "--host",
        "http://127.0.0.1:9",
        "--headless",
    ];
    let cases: &[(&[&str], &str)] = &[
        (
            &["--capacity", "--max-rate", "100/s"],
            "error: a capacity search needs a threshold to fail: add --threshold, e.g. 'p95<500ms', or `thresholds:` to the scenario",
        ),
        (
            &[
                "--capacity",
                "--max-rate",
                "100/s",
                "--threshold",
                "p95<1s",
                "--start-rate",
                "200/s",
            ],
            "error: --start-rate 200/s: expected above 0 and at most --max-rate 100/s",
        ),
        (
            &["--capacity", "--max-rate", "0/s", "--threshold", "p95<1s"],
            "error: --max-rate must be above 0",
        ),
        (
            &[
                "--capacity",
                "--max-rate",
                "100/s",
                "--threshold",
                "p95<1s",
                "--precision",
                "0",
            ],
            "error: --precision 0: expected a percentage above 0 and below 100",
        ),
        (
            &[
                "--capacity",
                "--max-rate",
                "100/s",
                "--threshold",
                "p95<1s",
                "-t",
                "5s",
            ],
            "error: --run-time 5s is shorter than one step (--step-time 10s)",
        ),
        (
            &["--capacity", "--max-rate", "fast", "--threshold", "p95<1s"],
            "invalid rate `fast`",
        ),
        (&["--capacity", "--threshold", "p95<1s"], "--max-rate"),
        (
            &["--capacity", "--max-rate", "100/s", "--csv", "x"],
            "the argument '--capacity' cannot be used with '--csv <PREFIX>'",
        ),
        (&["--max-rate", "100/s"], "--capacity"),
    ];
    for (args, want) in cases {
        let out = stampede().args(base).args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Without --headless, and a master's state dir.
    let out = stampede()
        .args(["run", "-f", &file, "--capacity", "--max-rate", "1/s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--headless"));
    let out = stampede()
        .args([
            "master",
            "-f",
            &file,
            "--headless",
            "--capacity",
            "--max-rate",
            "1/s",
        ])
        .args(["--threshold", "p95<1s", "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "error: --state-dir does not apply to a capacity search: each step is a run of its own"
    ));
}
