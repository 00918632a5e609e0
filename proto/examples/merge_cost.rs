//! What the master pays per endpoint-report: decode a worker's report off the
//! wire and merge it into a run's statistics, as the master's actor does for
//! every report (bench/master-load.sh measures the whole master; this is the
//! part of it that grows with workers × request names).
//!
//! `cargo run --release -p stampede-proto --example merge_cost -- [REPORTS] [ENDPOINTS] [SAMPLES]`
//! (defaults 200 reports of 50 endpoints with 20 samples each; a tick every
//! 100 reports, as 100 workers reporting each second would give).

use std::time::{Duration, Instant, SystemTime};

use stampede_common::stats::{Load, Recorder, RunStats, StatsKey};
use stampede_proto::convert::{decode_interval, encode_interval, measured_from_wire};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a whole number"))
        .collect();
    let reports = args.first().copied().unwrap_or(200);
    let endpoints = args.get(1).copied().unwrap_or(50) as usize;
    let samples = args.get(2).copied().unwrap_or(20);
    let keys: Vec<StatsKey> = (0..endpoints)
        .map(|i| StatsKey::new("GET", format!("/endpoint/{i}")))
        .collect();
    let recorder = Recorder::new(keys);
    let wire: Vec<_> = (0..reports)
        .map(|seq| {
            for e in 0..endpoints {
                for s in 0..samples {
                    recorder.record(e, 1000 + fastrand::u64(..200_000) + s, 512, None);
                }
            }
            encode_interval(1, seq + 1, 10, &recorder.take()).expect("encodes")
        })
        .collect();
    let t0 = SystemTime::now();
    let mut run = RunStats::new(t0);
    let start = Instant::now();
    for (i, r) in wire.iter().enumerate() {
        let interval = decode_interval(r).expect("decodes");
        // A hundred reports a second.
        let at = t0 + Duration::from_millis(i as u64 * 10);
        run.add(&interval, measured_from_wire(r, at), at);
        if (i + 1) % 100 == 0 {
            let load = Load {
                users: 10,
                target_users: 10,
                target_rate: None,
            };
            run.tick(at, load);
        }
    }
    let took = start.elapsed();
    let per = took.as_secs_f64() * 1e6 / (reports as f64 * endpoints as f64);
    println!(
        "{reports} reports x {endpoints} endpoints x {samples} samples: {:.1} ms, {per:.1} us per endpoint-report, {} requests merged",
        took.as_secs_f64() * 1e3,
        run.total().requests
    );
}
