//! A master that resumes: `stampede master --state-dir` killed with SIGKILL
//! mid-run and started again with the same command finishes the run on
//! time with one report that counts exactly what the target served, the
//! outage shown; a state dir that is corrupt, of a finished run or of
//! another run is refused with exit 2 and left as it was.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    Killed, ShopProcess, logged_stampede as stampede, master_addr as listening, summary_count,
    worker_process as worker,
};
use serde_json::Value;

fn scenario(dir: &Path) -> String {
    let path = dir.join("steady.yaml");
    std::fs::write(
        &path,
        "name: steady\nusers:\n  - name: U\n    wait: {constant: 10ms}\n    sequence: [{get: /api/products/1/}]\n",
    )
    .unwrap();
    path.display().to_string()
}

/// `stampede master` headless on `bind` with its state in `state`.
fn master(file: &str, host: &str, state: &Path, bind: &str, extra: &[&str]) -> Command {
    let mut c = stampede();
    c.args([
        "master", "-f", file, "--host", host, "-u", "10", "-r", "100",
    ])
    .args(["-t", "8s", "--headless", "--expect-workers", "2"])
    .args(["--expect-workers-max-wait", "60s", "--bind", bind])
    .arg("--state-dir")
    .arg(state)
    .args(extra);
    c
}

#[test]
fn a_master_killed_mid_run_resumes_on_its_state_dir_and_counts_exactly() {
    let shop = ShopProcess::start(&["--latency", "10ms"]);
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path());
    let state = dir.path().join("state");
    let json = dir.path().join("r.json").display().to_string();
    let mut first = master(&file, &shop.url, &state, "127.0.0.1:0", &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = listening(&mut first);
    let mut first = Killed(first);
    let _workers = [worker(&addr, "w0"), worker(&addr, "w1")];
    // Mid-run, with seconds of it in the state dir.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !state.join("history.jsonl").exists() || shop.served() < 300 {
        assert!(Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let killed = Instant::now();
    // The workers measure on through the outage; the master comes back
    // where they look for it.
    std::thread::sleep(Duration::from_millis(1500));
    let out = master(&file, &shop.url, &state, &addr, &["--json", &json])
        .arg("--only-summary")
        .output()
        .unwrap();
    let took = killed.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(
        stderr.contains("run resumed from the state dir"),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("master outage: "), "{stdout}");
    // Every request the shop served, counted once.
    eprintln!(
        "resumed: {} counted, {} served",
        summary_count(&stdout),
        shop.served()
    );
    assert_eq!(summary_count(&stdout), shop.served(), "{stdout}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let outages = report["outages"].as_array().unwrap();
    assert_eq!(outages.len(), 1, "{outages:?}");
    let length = outages[0]["length_s"].as_f64().unwrap();
    assert!((1.0..10.0).contains(&length), "an outage of {length} s");
    // On time: 8 s from the first start, not from the second.
    let duration = report["run"]["duration_s"].as_f64().unwrap();
    assert!((8.0..10.0).contains(&duration), "the run took {duration} s");
    assert!(took < Duration::from_secs(8), "{took:?}");
    // The history covers the whole run, the outage's seconds included.
    let ticks = report["history"].as_array().unwrap();
    eprintln!(
        "outage {length} s, run {duration} s, history {:?}",
        ticks
            .iter()
            .map(|t| t["rps"].as_f64().unwrap().round())
            .collect::<Vec<_>>()
    );
    assert!(ticks.len() >= 8, "{} seconds of history", ticks.len());
    let last = ticks.last().unwrap()["total"]["requests"].as_u64().unwrap();
    assert_eq!(last, report["total"]["requests"].as_u64().unwrap());
    // Finished: the same command again is refused.
    let again = master(&file, &shop.url, &state, "127.0.0.1:0", &[])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("finished and reported; pass --fresh"), "{err}");
}

/// A master with no worker to wait for, started on `state`.
fn bare_master(state: &Path, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path());
    stampede()
        .args(["master", "-f", &file, "--host", "http://127.0.0.1:9"])
        .args([
            "-u",
            "10",
            "-t",
            "5s",
            "--headless",
            "--bind",
            "127.0.0.1:0",
        ])
        .args(["--expect-workers-max-wait", "1s"])
        .args(extra)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap()
}

/// The one-line error of a master started on `state`: exit 2.
fn refused(state: &Path) -> String {
    let out = bare_master(state, &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn corrupt_finished_and_other_state_dirs_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    // Corrupt.
    std::fs::write(state.join("run.json"), "{\"format\": 1, \"run_id\"").unwrap();
    let err = refused(&state);
    assert!(
        err.contains(&format!(
            "error: state dir {}: run.json is corrupt (",
            state.display()
        )),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(state.join("run.json")).unwrap(),
        "{\"format\": 1, \"run_id\"",
        "left as it was"
    );
    // --fresh sets even that aside (it is not read).
    let out = bare_master(&state, &["--fresh"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let aside: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("old-unreadable-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    // Another run's (a fingerprint that is not this command's).
    let other = r#"{"format":1,"run_id":7,"fingerprint":"0000000000000000","scenario":"steady","started":{"secs_since_epoch":1,"nanos_since_epoch":0},"finished":null}"#;
    std::fs::write(state.join("run.json"), other).unwrap();
    let err = refused(&state);
    assert!(
        err.contains("holds run 7 of scenario `steady` with other files or settings"),
        "{err}"
    );
    // Finished.
    let finished = other.replace(
        "\"finished\":null",
        "\"finished\":{\"secs_since_epoch\":2,\"nanos_since_epoch\":0}",
    );
    std::fs::write(state.join("run.json"), &finished).unwrap();
    let err = refused(&state);
    assert!(err.contains("holds run 7, finished and reported"), "{err}");
    assert_eq!(
        std::fs::read_to_string(state.join("run.json")).unwrap(),
        finished
    );
    // --fresh sets it aside, then starts (and, with no worker, gives up).
    let out = bare_master(&state, &["--fresh"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(state.join("old-7/run.json")).unwrap(),
        finished
    );
    assert!(!state.join("run.json").exists());
}
