//! The binary, as a user runs it: exit codes, one-line errors, stdin
//! scenarios, the demo, and a run against a separate `stampede shop` process
//! stopped by SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use predicates::prelude::*;

mod common;

use common::{ShopProcess, scenario, stampede, stampede_process, summary_count};

#[test]
fn check_accepts_the_seed_scenarios() {
    for name in ["shop", "browse", "order", "payment"] {
        stampede()
            .args(["check", "-f", &scenario(name)])
            .assert()
            .success()
            .stdout(predicate::str::contains(": ok, 1 user class(es)"));
    }
}

#[test]
fn check_reads_stdin() {
    stampede()
        .args(["check", "-f", "-"])
        .write_stdin("users:\n  - name: A\n    sequence: [{get: /}]\n")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("-: ok"));
}

#[test]
fn a_bad_scenario_exits_2_with_one_line_and_a_snippet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "users:\n  - name: A\n    wiat: {constant: 1s}\n    sequence: [{get: /}]\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    for cmd in [
        vec!["check", "-f", p],
        vec!["run", "-f", p, "--host", "http://127.0.0.1:9", "--headless"],
    ] {
        let out = stampede().args(&cmd).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        let first = err.lines().next().unwrap();
        assert!(
            first.starts_with(&format!("error: {p}:3:5: unknown field `wiat`")),
            "{first}"
        );
        assert!(err.contains("3 |     wiat: {constant: 1s}"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let shop = scenario("shop");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "-f", &shop, "--class", "Nope", "-t", "1s"],
            "unknown user class `Nope` (the scenario has: WebsiteUser)",
        ),
        (
            vec!["run", "-f", &shop, "--host", "localhost:8000", "-t", "1s"],
            "invalid host `localhost:8000`",
        ),
        (
            vec!["run", "-f", &shop, "-r", "0"],
            "invalid spawn rate `0`",
        ),
        (
            vec!["run", "-f", &shop, "-t", "soon"],
            "invalid duration `soon`",
        ),
        (
            vec!["run", "-f", "/nonexistent.yaml"],
            "/nonexistent.yaml: cannot read: no such file or directory",
        ),
        (
            vec![
                "run",
                "-f",
                &shop,
                "--ca-cert",
                "/nonexistent.pem",
                "-t",
                "1s",
            ],
            "--ca-cert /nonexistent.pem: no such file",
        ),
        (vec!["shop", "--latency", "fast"], "invalid latency `fast`"),
        (vec!["shop", "--error-rate", "2"], "invalid error rate 2"),
    ];
    for (args, want) in cases {
        stampede()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(want));
    }
    let no_host = "users:\n  - name: A\n    sequence: [{get: /}]\n";
    stampede()
        .args(["run", "-f", "-", "-t", "1s", "--headless"])
        .write_stdin(no_host)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no target host: pass --host or set `host:` in the scenario",
        ));
}

/// The README's first command, shortened: the demo with its HTML report.
#[test]
fn demo_counts_match_the_shop_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    stampede()
        .args([
            "demo",
            "-u",
            "20",
            "-r",
            "100",
            "-t",
            "3s",
            "--only-summary",
        ])
        .arg("--html")
        .arg(&html)
        .timeout(Duration::from_secs(60))
        .assert()
        .success()
        .stdout(predicate::str::contains("Aggregated"))
        .stdout(predicate::str::contains("the counts match"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") || page.starts_with("<!doctype html>"));
    assert!(page.contains("Aggregated") && page.contains("</html>"));
}

#[test]
fn run_against_a_shop_process_counts_what_it_served() {
    let shop = ShopProcess::start(&[]);
    let out = stampede()
        .args([
            "run",
            "-f",
            &scenario("browse"),
            "--host",
            &shop.url,
            "-u",
            "10",
            "-r",
            "100",
            "-t",
            "2s",
            "--headless",
            "--only-summary",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(summary_count(&stdout), shop.served());
}

#[test]
fn exit_code_on_error_when_requests_fail() {
    let shop = ShopProcess::start(&["--error-rate", "1"]);
    stampede()
        .args([
            "run",
            "--headless",
            "-f",
            &scenario("browse"),
            "--host",
            &shop.url,
            "-u",
            "3",
            "-t",
            "1s",
            "--only-summary",
            "--exit-code-on-error",
            "1",
        ])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "unexpected status 500 (Internal Server Error)",
        ));
}

#[cfg(unix)]
#[test]
fn sigterm_stops_gracefully_and_prints_the_results() {
    let shop = ShopProcess::start(&[]);
    let child = stampede_process()
        .args([
            "run",
            "--headless",
            "-f",
            "-",
            "--host",
            &shop.url,
            "-u",
            "5",
            "-r",
            "100",
            "--only-summary",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"users:\n  - name: A\n    wait: {constant: 10ms}\n    sequence: [{get: /api/products/}]\n").unwrap();
    }
    // Readiness: the target has seen load.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while shop.served() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "no load reached the shop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(summary_count(&stdout), shop.served(), "{stdout}");
}
