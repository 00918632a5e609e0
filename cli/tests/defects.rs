//! Defects found trying the tool as a new user would, each pinned by a test
//! against the real binary: output paths checked before any load, a report
//! that cannot be written at the end not keeping the others from being
//! written (and no stray warning from the in-process workers), an invalid
//! master address refused as a usage error, the final table's req/s
//! being the run's average rather than the last window's, and huge, deeply
//! nested and alias-bomb scenario files refused in bounded time with a
//! bounded message.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::{ShopProcess, scenario, stampede, stampede_process};
use predicates::prelude::*;

#[test]
fn an_output_path_that_cannot_be_written_is_refused_before_any_load() {
    let shop = ShopProcess::start(&[]);
    for (flag, path) in [
        ("--csv", "/no/such/dir/x"),
        ("--json", "/no/such/dir/r.json"),
        ("--html", "/no/such/dir/r.html"),
    ] {
        stampede()
            .args([
                "run",
                "--headless",
                "-f",
                &scenario("browse"),
                "--host",
                &shop.url,
            ])
            .args(["-u", "5", "-r", "50", "-t", "1s"])
            .args([flag, path])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("error: {flag} {path}")))
            .stderr(predicate::str::contains(
                "the directory /no/such/dir does not exist",
            ));
    }
    assert_eq!(shop.served(), 0, "no load was sent");
}

#[test]
fn a_report_that_fails_at_the_end_leaves_the_others_written() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let gone = dir.path().join("gone");
    std::fs::create_dir(&gone).unwrap();
    let html = gone.join("r.html");
    let mut child = stampede_process()
        .env("RUST_LOG", "info")
        .args([
            "demo",
            "-u",
            "5",
            "-r",
            "50",
            "-t",
            "2s",
            "--latency",
            "0ms",
            "--json",
        ])
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Readiness: the demo says what it runs once its target listens; the
    // html report's directory goes away during the run.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.starts_with("demo: shop target on") {
            break;
        }
        line.clear();
    }
    assert!(seen.contains("demo: shop target on"), "{seen}");
    std::fs::remove_dir(&gone).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{rest}");
    assert!(
        rest.contains(&format!(
            "error: cannot write {}: no such file or directory",
            html.display()
        )),
        "{rest}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        report["total"]["requests"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert!(!rest.contains("lost the master"), "{rest}");
    assert!(
        !rest.contains("WARN"),
        "a clean end logs no warning: {rest}"
    );
}

#[test]
fn an_invalid_master_address_is_a_usage_error() {
    for bad in [
        "host:99999",
        "host",
        "http://host:5557/path",
        "ftp://host:1",
    ] {
        stampede()
            .args(["worker", "--master", bad])
            .timeout(Duration::from_secs(10))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "invalid master address `{bad}`: expected HOST:PORT with a port from 1 to 65535"
            )));
    }
}

/// The row of `name` in the summary's request table: its req/s column.
fn final_rps(stdout: &str, name: &str) -> f64 {
    let row = stdout
        .lines()
        .find(|l| l.contains(name) && l.contains("POST"))
        .unwrap_or_else(|| panic!("no row {name}: {stdout}"));
    let cells: Vec<&str> = row.split_whitespace().filter(|c| *c != "│").collect();
    // Type, Name, # reqs, # fails, Avg, Min, Max, Med, req/s, failures/s
    cells[8].parse().unwrap_or_else(|_| panic!("{row}"))
}

#[test]
fn the_final_table_shows_the_runs_average_rate() {
    // Each user logs in once, at the start: by the end the last window
    // saw no login, but the run's average is logins over the run time.
    let out = stampede()
        .args([
            "demo",
            "-u",
            "10",
            "-r",
            "100",
            "-t",
            "4s",
            "--latency",
            "0ms",
            "--only-summary",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let stdout = String::from_utf8(out).unwrap();
    let rps = final_rps(&stdout, "/api/auth/login/");
    assert!(rps > 0.5, "logins per second over the run: {rps}\n{stdout}");
}

#[test]
fn huge_deep_and_alias_bomb_scenarios_are_refused_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let users = "users:\n  - name: U\n    sequence: [{get: /}]\n";
    // "Billion laughs": nine levels of nine aliases each.
    let mut bomb =
        String::from("variables:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        bomb.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    let deep = format!(
        "variables:\n  x: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let mut huge = String::from("variables:\n");
    for i in 0..400_000 {
        huge.push_str(&format!("  v{i}: {}\n", "x".repeat(40)));
    }
    for (name, text, message) in [
        ("bomb.yaml", bomb, "YAML document too large or too complex"),
        ("deep.yaml", deep, "recursion limit exceeded"),
        ("huge.yaml", huge, "YAML document too large or too complex"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{text}{users}")).unwrap();
        let out = stampede()
            .args(["check", "-f"])
            .arg(&path)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains(&format!("{name}:")) && stderr.contains(message),
            "{stderr}"
        );
        assert!(
            stderr.len() < 1_000,
            "a bounded message for {name}: {} bytes",
            stderr.len()
        );
    }
}
