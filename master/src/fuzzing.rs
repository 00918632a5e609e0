//! Entry point of the fuzz target of worker messages (`fuzz/`) and of its
//! regression test (`master/tests/fuzz_corpus.rs`): arbitrary bytes read as a
//! stream of length-delimited `WorkerMessage`s, every stats report among
//! them merged the way the actor merges one ([`crate::cluster::intake`]),
//! with the history ticking between them. Not an API: hidden from the docs,
//! kept compiled so that it cannot rot.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;
use stampede_common::stats::{GROUP_METHOD, Load, MAX_ERRORS, MAX_NAMES, MAX_TEXT, RunStats};
use stampede_proto::v1::{self, worker_message};

use crate::cluster::intake::merge_report;

/// Merges the reports in `data`; whatever they hold, the merged stats stay
/// within their bounds and the Aggregated row counts every request.
///
/// # Panics
///
/// On a broken bound or a miscount: that is what the fuzzer looks for.
pub fn worker_messages(data: &[u8]) {
    let started = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut stats = RunStats::new(started);
    let mut now = started;
    let mut rest = data;
    while let Ok(msg) = v1::WorkerMessage::decode_length_delimited(&mut rest) {
        if let Some(worker_message::Kind::Stats(report)) = msg.kind {
            let _ = merge_report(&mut stats, "fuzz", &report, now);
        }
        now += Duration::from_millis(250);
        stats.tick(now, Load::default());
    }
    check(&stats, now);
}

fn check(stats: &RunStats, now: SystemTime) {
    let snap = stats.snapshot(now);
    // The catch-all rows (one a method) come on top of the bound.
    assert!(
        snap.rows.len() <= MAX_NAMES + 11,
        "{} rows",
        snap.rows.len()
    );
    assert!(snap.failures.len() <= MAX_ERRORS + 1);
    assert!(snap.exceptions.len() <= MAX_ERRORS + 1);
    let long = |s: &str| s.len() > MAX_TEXT;
    assert!(!snap.rows.iter().any(|r| long(&r.name) || long(&r.method)));
    assert!(!snap.failures.iter().any(|(k, _)| long(&k.error)));
    let requests = snap
        .rows
        .iter()
        .filter(|r| r.method != GROUP_METHOD)
        .fold(0u64, |n, r| n.saturating_add(r.requests));
    assert_eq!(
        requests, snap.total.requests,
        "the Aggregated row counts every request"
    );
}
