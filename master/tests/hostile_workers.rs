//! A worker that holds the token and sends what no worker of ours sends:
//! thousands of distinct request names, a name of megabytes' worth of
//! bytes, histograms that are not histograms, a flood of messages and a
//! message over the size limit. The master keeps its bounds (names and
//! messages capped into catch-all rows, totals exact), drops that worker,
//! and keeps serving a real worker, whose counts equal what the shop served.

mod support;

use std::time::Duration;

use stampede_common::stats::{MAX_NAMES, MAX_TEXT, OTHER_NAMES, Recorder, StatsKey};
use stampede_master::cluster::WorkerState;
use stampede_proto::convert::encode_interval;
use stampede_proto::v1::{self, worker_message};
use stampede_proto::{MAX_WORKER_MESSAGE, PROTOCOL_VERSION};
use support::{Cluster, raw_attach};

const STEADY: &str =
    "users:\n  - name: U\n    wait: {constant: 100ms}\n    sequence: [{get: /api/products/}]\n";

/// The real worker's one row.
const REAL: &str = "/api/products/";

/// A report of one request to each of `names`, for run `run_id`.
fn report(run_id: u64, seq: u64, names: impl Iterator<Item = String>) -> v1::WorkerMessage {
    let keys: Vec<StatsKey> = names.map(|n| StatsKey::new("GET", n)).collect();
    let r = Recorder::new(keys.clone());
    for slot in 0..keys.len() {
        r.record(slot, 2_000, 10, None);
    }
    let mut rep = encode_interval(run_id, seq, 0, &r.take()).unwrap();
    rep.interval_ms = 250;
    v1::WorkerMessage {
        kind: Some(worker_message::Kind::Stats(rep)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_worker_is_bounded_and_dropped_while_the_real_one_is_served() {
    let c = Cluster::start(1).await;
    let run_id = c.master.start(c.plan(STEADY, 2, 100.0)).await.unwrap();
    c.wait_users(&[("w0", 2)]).await;
    c.wait_served(5).await;

    let (tx, res) = raw_attach(&c, "hostile", PROTOCOL_VERSION).await;
    let _inbound = res.expect("the token is good: attached");
    let send = async |msg| tx.send(msg).await.is_ok();

    // 12,000 names in three reports: room for MAX_NAMES rows in all (the
    // real worker's among them), the rest under the catch-all.
    const HOSTILE: u64 = 12_000;
    for seq in 0..3u64 {
        let names = (seq * 4_000..(seq + 1) * 4_000).map(|i| format!("/hostile/{i}"));
        assert!(send(report(run_id, seq + 1, names)).await);
    }
    // A name far too long: kept cut short, its request still counted.
    assert!(send(report(run_id, 4, std::iter::once("x".repeat(500_000)))).await);
    // A histogram that is not one: the report is dropped whole.
    let mut bad = report(run_id, 5, std::iter::once("/bad".to_owned()));
    if let Some(worker_message::Kind::Stats(r)) = &mut bad.kind {
        r.endpoints[0].histogram = b"not a histogram at all".to_vec();
    }
    assert!(send(bad).await);
    // A flood of heartbeats.
    for _ in 0..5_000 {
        let hb = v1::Heartbeat {
            users: 0,
            cpu_percent: 0.0,
        };
        assert!(
            send(v1::WorkerMessage {
                kind: Some(worker_message::Kind::Heartbeat(hb)),
            })
            .await
        );
    }
    // Flooded, the master still counts it among the run's workers.
    c.wait_state("hostile", WorkerState::Running, Duration::from_secs(10))
        .await;
    // One message over the size limit: the master drops this worker.
    let huge = report(
        run_id,
        6,
        std::iter::once("y".repeat(MAX_WORKER_MESSAGE + 1)),
    );
    let _ = send(huge).await;
    c.wait_state("hostile", WorkerState::Missing, Duration::from_secs(10))
        .await;

    // The real worker is served on: more requests, all of them counted.
    let before = c.served();
    c.wait_served(before + 5).await;
    let run = c.stop().await;
    let stats = &run.stats;
    let rows = stats.endpoints();
    let real = rows
        .iter()
        .find(|(k, _)| k.name == REAL)
        .map(|(_, s)| s.requests)
        .expect("the real worker's row");
    assert_eq!(
        real,
        c.served(),
        "the real worker's count equals the shop's"
    );
    assert!(rows.len() <= MAX_NAMES + 1, "{} rows", rows.len());
    let other = rows
        .iter()
        .find(|(k, _)| k.name == OTHER_NAMES && k.method == "GET")
        .map(|(_, s)| s.requests)
        .expect("the catch-all row");
    // The rows the run had room for: all but the real worker's one.
    let kept = (MAX_NAMES - 1) as u64;
    assert_eq!(
        other,
        HOSTILE + 1 - kept,
        "the long name came after the room ran out"
    );
    assert!(rows.keys().all(|k| k.name.len() <= MAX_TEXT));
    assert!(
        !rows.keys().any(|k| k.name == "/bad"),
        "the bad report was dropped"
    );
    assert_eq!(
        stats.total().requests,
        c.served() + HOSTILE + 1,
        "the Aggregated row counts every merged request"
    );
}
