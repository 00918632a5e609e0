//! The open model from the command line: `--arrival-rate` with `--max-users`
//! runs against a `stampede shop` process and reports its iterations, and
//! every bad combination of the flags is a one-line usage error (exit 2).

use predicates::prelude::*;

mod common;

use common::{ShopProcess, stampede};

const VIEW: &str = "users:\n  - name: U\n    sequence: [{get: /api/products/3/}]\n";

#[test]
fn an_arrival_rate_run_reports_its_iterations_and_shape() {
    let shop = ShopProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("open");
    let out = stampede()
        .args(["run", "--headless", "-f", "-", "--host", &shop.url])
        .args(["--arrival-rate", "50/s", "-t", "2s", "--max-users", "20"])
        .args(["--json", "-", "--csv", csv.to_str().unwrap()])
        .write_stdin(VIEW)
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "arrival rate up to 50/s (at most 20 users)",
        ))
        .stderr(predicate::str::contains("Open model: "))
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["run"]["load"]["model"], "arrival_rate");
    assert_eq!(json["run"]["load"]["max_users"], 20);
    assert_eq!(json["run"]["load"]["stages"][0]["target_rate"], 50.0);
    let done = json["iterations"]["completed"].as_u64().unwrap();
    assert!((90..=101).contains(&done), "{done} iterations of 100 due");
    assert_eq!(json["total"]["requests"].as_u64().unwrap(), shop.served());
    assert!(json["service_time"]["total"]["requests"].as_u64().unwrap() == done);
    let history = std::fs::read_to_string(dir.path().join("open_stats_history.csv")).unwrap();
    let header = history.lines().next().unwrap();
    assert!(
        header.ends_with(",Target Users,Target Iterations/s,Iterations/s,Dropped Iterations/s"),
        "{header}"
    );
    assert!(
        history.lines().nth(1).unwrap().contains(",20,50,"),
        "{history}"
    );
}

#[test]
fn bad_open_model_flags_are_usage_errors() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--arrival-rate", "fast", "-t", "1s", "--max-users", "2"],
            "error: invalid value 'fast' for '--arrival-rate <RATE>': invalid rate `fast`: expected iterations per time unit, e.g. 500/s or 30/m",
        ),
        (
            &["--arrival-rate", "5/s", "--max-users", "2"],
            "error: --arrival-rate needs --run-time (how long to keep the rate)",
        ),
        (
            &["--arrival-rate", "5/s", "-t", "1s"],
            "error: the open model needs --max-users: the most virtual users it may start",
        ),
        (
            &["--max-users", "5"],
            "error: --max-users applies to the open model: add --arrival-rate or --arrival-stages",
        ),
        (
            &["--arrival-stages", "1m", "--max-users", "2"],
            "error: invalid value '1m' for '--arrival-stages <STAGES>': invalid arrival stages `1m`: `1m` is not DURATION:RATE, e.g. 1m:500/s",
        ),
        (
            &["--arrival-rate", "5/s", "-t", "1s", "--max-users", "0"],
            "error: --max-users must be at least 1",
        ),
        (
            &["--arrival-stages", "10s:0/s", "--max-users", "2"],
            "error: the arrival rate never starts an iteration (every rate is 0)",
        ),
        (
            &["--arrival-rate", "5/s", "--stages", "1m:10"],
            "error: the argument '--arrival-rate <RATE>' cannot be used with '--stages <STAGES>'",
        ),
    ];
    for (args, want) in cases {
        stampede()
            .args([
                "run",
                "--headless",
                "-f",
                "-",
                "--host",
                "http://127.0.0.1:9",
            ])
            .args(*args)
            .write_stdin(VIEW)
            .assert()
            .code(2)
            .stderr(predicate::str::starts_with(*want));
    }
}
