//! The history is a true time series, and the results are on disk while the
//! run goes: `stampede run` processes against a `stampede shop` process
//! whose fixed latency makes the load steady.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{ShopProcess, stampede, stampede_process};
use serde_json::Value;

/// A scenario of one GET with `wait` between requests.
fn scenario(dir: &Path, wait: &str) -> String {
    let path = dir.join("steady.yaml");
    std::fs::write(
        &path,
        format!(
            "name: steady\nusers:\n  - name: U\n    wait: {wait}\n    sequence: [{{get: /api/products/1/}}]\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// The Aggregated requests/s of every CSV history row.
fn csv_history_rates(path: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (name, rps) = (col("Name"), col("Requests/s"));
    text.lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[name] == "Aggregated")
        .map(|f| f[rps].parse().unwrap())
        .collect()
}

/// Every rate after the first second (the ramp) within 20% of the median.
fn assert_steady(what: &str, rates: &[f64]) {
    assert!(rates.len() >= 5, "{what}: {rates:?}");
    let mut sorted = rates[1..].to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert!(median > 0.0, "{what}: {rates:?}");
    for r in &rates[1..] {
        assert!(
            (r - median).abs() <= 0.2 * median,
            "{what}: {r} is more than 20% from the median {median}: {rates:?}"
        );
    }
}

fn steady_run(wait: &str) {
    let shop = ShopProcess::start(&["--latency", "20ms"]);
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), wait);
    let prefix = dir.path().join("r").display().to_string();
    let json = dir.path().join("r.json");
    let jsonl = dir.path().join("h.jsonl");
    stampede()
        .args(["run", "-f", &file, "--headless", "-u", "10", "-r", "100"])
        .args(["-t", "6s", "--host", &shop.url, "--only-summary"])
        .args(["--csv", &prefix, "--json"])
        .arg(&json)
        .arg("--history-jsonl")
        .arg(&jsonl)
        .assert()
        .success();
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let ticks = report["history"].as_array().expect("a history");
    let rates: Vec<f64> = ticks.iter().map(|t| t["rps"].as_f64().unwrap()).collect();
    assert_steady(&format!("json ({wait})"), &rates);
    // Every second of the run, the last (partial) one ending with the run.
    assert!((6..=8).contains(&rates.len()), "{rates:?}");
    assert_steady(
        &format!("csv ({wait})"),
        &csv_history_rates(Path::new(&format!("{prefix}_stats_history.csv"))),
    );
    let lines: Vec<Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let from_lines: Vec<f64> = lines.iter().map(|t| t["rps"].as_f64().unwrap()).collect();
    assert_eq!(from_lines, rates, "the json lines are the report's history");
    // The seconds add up to the run's count.
    let total = report["total"]["requests"].as_u64().unwrap();
    assert_eq!(
        lines.last().unwrap()["total"]["requests"].as_u64(),
        Some(total)
    );
}

#[test]
fn a_steady_run_without_think_time_has_a_flat_history_to_its_last_second() {
    steady_run("{constant: 0s}");
}

#[test]
fn a_steady_run_with_think_time_has_a_flat_history_to_its_last_second() {
    steady_run("{constant: 100ms}");
}

/// The Aggregated request count of a `_stats.csv`, if the file is there.
fn csv_count(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let row = text.lines().find(|l| l.contains(",Aggregated,"))?;
    row.split(',').nth(2)?.parse().ok()
}

#[test]
fn results_are_on_disk_while_the_run_goes_and_after_a_kill() {
    let shop = ShopProcess::start(&["--latency", "10ms"]);
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "{constant: 10ms}");
    let prefix = dir.path().join("live").display().to_string();
    let stats = std::path::PathBuf::from(format!("{prefix}_stats.csv"));
    let jsonl = dir.path().join("h.jsonl");
    let mut child = stampede_process()
        .args(["run", "-f", &file, "--headless", "-u", "5", "-r", "100"])
        .args(["-t", "60s", "--host", &shop.url, "--only-summary"])
        .args(["--csv", &prefix, "--history-jsonl"])
        .arg(&jsonl)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Read the files as the run goes: counts only ever grow.
    let (mut last_csv, mut last_line) = (0u64, 0u64);
    let mut rewrites = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while rewrites < 3 || last_line == 0 {
        assert!(Instant::now() < deadline, "the files did not grow in time");
        if let Some(n) = csv_count(&stats) {
            assert!(n >= last_csv, "the csv count went from {last_csv} to {n}");
            rewrites += usize::from(n > last_csv);
            last_csv = n;
        }
        if let Ok(text) = std::fs::read_to_string(&jsonl) {
            let mut prev = 0;
            for l in text.lines() {
                let t: Value = serde_json::from_str(l).expect("whole lines");
                let n = t["total"]["requests"].as_u64().unwrap();
                assert!(n >= prev, "the total went from {prev} to {n}");
                prev = n;
            }
            assert!(prev >= last_line, "a line went missing");
            last_line = prev;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // SIGKILL: no end of run, no final report; the files keep what was seen.
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = std::time::SystemTime::now();
    let served = shop.served();
    let kept = csv_count(&stats).expect("the csv files survive the kill");
    assert!(kept > 0 && kept <= served, "{kept} of {served}");
    let lines: Vec<Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let newest = lines.last().unwrap()["unix_ms"].as_i64().unwrap();
    let age = unix_ms(killed_at) - newest;
    assert!(
        age <= 4_000,
        "the newest second on disk is {age} ms older than the kill"
    );
}

fn unix_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
