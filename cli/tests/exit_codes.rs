//! Exit codes through the binary: 0 passed, 1 a threshold failed (also when
//! `abort_on_fail` stops the run early), 2 usage or scenario error, 3 the run
//! could not run; and the report files a run writes.

use predicates::prelude::*;

mod common;

use common::{ShopProcess, stampede};

const BROWSE: &str =
    "users:\n  - name: U\n    wait: {constant: 50ms}\n    sequence: [{get: /api/products/}]\n";

#[test]
fn thresholds_decide_the_exit_code() {
    let shop = ShopProcess::start(&[]);
    let base = [
        "run",
        "--headless",
        "-f",
        "-",
        "--host",
        &shop.url,
        "-u",
        "2",
        "-r",
        "100",
        "-t",
        "1s",
        "--only-summary",
    ];
    stampede()
        .args(base)
        .args([
            "--threshold",
            "p95<2s",
            "--threshold",
            "fail_ratio<5%",
            "--threshold",
            "GET /api/products/: requests>0",
        ])
        .write_stdin(BROWSE)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Thresholds: 3 of 3 passed"))
        .stdout(predicate::str::contains("pass  p95<2s"));
    stampede()
        .args(base)
        .args(["--threshold", "p95<2s", "--threshold", "rps>1000000"])
        .write_stdin(BROWSE)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Thresholds: 1 of 2 passed"))
        .stdout(predicate::str::contains("FAIL  rps>1000000"));
}

#[test]
fn abort_on_fail_stops_the_run_early_with_exit_1() {
    let shop = ShopProcess::start(&["--error-rate", "1"]);
    let yaml = "thresholds:\n  - {threshold: fail_ratio<10%, abort_on_fail: true, delay_abort_eval: 1s}\nusers:\n  - name: U\n    wait: {constant: 50ms}\n    sequence: [{get: /api/products/}]\n";
    let out = stampede()
        .args([
            "run",
            "--headless",
            "-f",
            "-",
            "--host",
            &shop.url,
            "-u",
            "2",
            "-t",
            "10m",
            "--only-summary",
            "--json",
            "-",
        ])
        .write_stdin(yaml)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json - writes only json to stdout");
    assert_eq!(report["run"]["stop_reason"], "threshold_aborted");
    assert_eq!(report["passed"], false);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("the run was stopped early because a threshold with abort_on_fail was lost"),
        "{err}"
    );
}

#[test]
fn an_unreachable_target_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    stampede()
        .args([
            "run",
            "--headless",
            "-f",
            "-",
            "--host",
            &format!("http://127.0.0.1:{port}"),
            "-t",
            "1s",
        ])
        .write_stdin(BROWSE)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "error: target unreachable: http://127.0.0.1:{port}: connection refused"
        )));
}

#[test]
fn a_bad_threshold_is_a_usage_error() {
    stampede()
        .args([
            "run",
            "--headless",
            "-f",
            "-",
            "--host",
            "http://127.0.0.1:9",
            "--threshold",
            "p95<soon",
        ])
        .write_stdin(BROWSE)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: invalid value 'p95<soon' for '--threshold <EXPR>': invalid threshold `p95<soon`: invalid duration `soon`",
        ));
}

#[test]
fn a_run_writes_csv_json_and_html() {
    let shop = ShopProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    stampede()
        .args([
            "run",
            "--headless",
            "-f",
            "-",
            "--host",
            &shop.url,
            "-u",
            "2",
            "-t",
            "2s",
            "--only-summary",
        ])
        .args([
            "--csv",
            &p("out"),
            "--json",
            &p("r.json"),
            "--html",
            &p("r.html"),
        ])
        .write_stdin(BROWSE)
        .assert()
        .code(0);
    for f in [
        "out_stats.csv",
        "out_stats_history.csv",
        "out_failures.csv",
        "out_exceptions.csv",
        "r.json",
        "r.html",
    ] {
        let meta = std::fs::metadata(dir.path().join(f)).unwrap_or_else(|_| panic!("{f} missing"));
        assert!(meta.len() > 0, "{f} is empty");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("r.json")).unwrap()).unwrap();
    assert!(json["total"]["requests"].as_u64().unwrap() > 0);
    let html = std::fs::read_to_string(p("r.html")).unwrap();
    assert!(html.contains("/api/products/"));
}
