//! The threshold matrix: every metric and operator, global and per endpoint,
//! and the parse errors.

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::stats::{Recorder, RunStats, StatsKey};

/// 100 GETs of /a taking 1..=100 ms (5 failed) and 10 POSTs of /b at 500 ms,
/// over 10 s.
fn snapshot() -> Snapshot {
    let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
    let r = Recorder::new(vec![
        StatsKey::new("GET", "/a"),
        StatsKey::new("POST", "/b"),
    ]);
    for ms in 1..=100u64 {
        r.record(0, ms * 1000, 10, (ms % 20 == 0).then_some("boom"));
    }
    for _ in 0..10 {
        r.record(1, 500_000, 10, None);
    }
    let mut run = RunStats::new(t0);
    let end = t0 + Duration::from_secs(1);
    run.add(
        &r.take(),
        crate::stats::Measured::before(end, Duration::ZERO, Duration::from_secs(1)),
        end,
    );
    run.snapshot(t0 + Duration::from_secs(10))
}

fn judge(expr: &str) -> Verdict {
    let t: Threshold = expr.parse().unwrap_or_else(|e| panic!("{e}"));
    evaluate(&[t], &snapshot()).remove(0)
}

#[test]
fn global_metrics_each_operator() {
    // Aggregated: 110 requests, 5 failures, avg (5050 + 5000)/110 ms, max 500 ms.
    let cases: &[(&str, bool)] = &[
        ("avg<100ms", true),
        ("avg<92", true),
        ("avg<90", false),
        ("avg<=91.37ms", true),
        ("avg>=91.37ms", false),
        ("avg>1s", false),
        ("min<2ms", true),
        ("min>=1ms", true),
        ("max<=500ms", true),
        ("max<500ms", false),
        ("med<60ms", true),
        ("median>60ms", false),
        ("p50<=55.1ms", true),
        ("p95<2s", true),
        ("p95<400ms", false),
        ("GET /a: p95<=95.1ms", true),
        ("p99>=500ms", true),
        ("p99.9<501ms", true),
        ("p100<=500ms", true),
        ("rps>10", true),
        ("rps>=11", true),
        ("rps>11", false),
        ("fail_ratio<5%", true),
        ("fail_ratio<0.05", true),
        ("fail_ratio<4%", false),
        ("fail_ratio>=4.5%", true),
        ("failures<=5", true),
        ("failures<5", false),
        ("requests>100", true),
        ("requests>=111", false),
    ];
    let mut wrong = Vec::new();
    for (expr, want) in cases {
        let v = judge(expr);
        if v.passed != *want {
            wrong.push(format!("{expr}: expected {want}, actual {:?}", v.actual));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn endpoint_metrics() {
    let cases: &[(&str, bool)] = &[
        ("POST /b: p99<1500ms", true),
        ("POST /b: avg<400ms", false),
        ("POST /b: fail_ratio<1%", true),
        ("GET /a: fail_ratio<1%", false),
        ("GET /a: max<=100ms", true),
        ("/a: requests>=100", true),
        ("GET /b: p99<1s", false), // no such endpoint: no data, fails
        ("/nope: avg<1s", false),
    ];
    for (expr, want) in cases {
        assert_eq!(judge(expr).passed, *want, "{expr}");
    }
    assert_eq!(judge("/nope: avg<1s").actual, None);
    assert_eq!(judge("POST /b: p99<1500ms").actual, Some(500.0));
}

#[test]
fn the_seeds_goals_are_writable_as_they_are() {
    for t in [
        "avg<1s",
        "p95<2s",
        "fail_ratio<5%",
        "p50<500ms",
        "p95<1000ms",
        "p99<2000ms",
    ] {
        assert!(judge(t).passed, "{t}");
    }
}

#[test]
fn parse_errors_say_why() {
    let cases = [
        ("p95", "expected a comparison like p95<2s"),
        ("p42<1s", "unknown metric"),
        ("latency<1s", "unknown metric"),
        ("p95<soon", "invalid duration `soon`"),
        ("fail_ratio<lots", "expected a ratio like 5% or 0.05"),
        ("rps>many", "expected a number"),
        (": avg<1s", "empty endpoint"),
    ];
    for (expr, want) in cases {
        let e = expr.parse::<Threshold>().unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("invalid threshold `{expr}`: ")),
            "{e}"
        );
        assert!(e.contains(want), "{expr}: {e}");
    }
}

#[test]
fn verdicts_print_with_their_values() {
    assert_eq!(
        judge("avg<1s").to_string(),
        "pass  avg<1s  (actual 91.36ms)"
    );
    assert_eq!(
        judge("/nope: avg<1s").to_string(),
        "FAIL  /nope: avg<1s  (no requests)"
    );
}

#[test]
fn iterations_and_dropped_iterations_count_the_whole_run() {
    let mut snap = snapshot();
    snap.iterations = 90;
    snap.dropped_iterations = 3;
    let judge = |expr: &str| {
        let t: Threshold = expr.parse().unwrap_or_else(|e| panic!("{e}"));
        evaluate(&[t], &snap).remove(0)
    };
    assert!(judge("dropped_iterations<5").passed);
    assert!(!judge("dropped_iterations<=2").passed);
    assert_eq!(judge("dropped_iterations<=2").actual, Some(3.0));
    assert!(judge("iterations>=90").passed);
    let e = "GET /a: dropped_iterations<1"
        .parse::<Threshold>()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("iterations and dropped_iterations count the whole run, not one endpoint"),
        "{e}"
    );
}
