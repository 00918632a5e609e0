//! What a master's `--state-dir` snapshot costs (`bench/state-cost.sh`): a
//! run's merged statistics with E endpoints (each with S samples a second
//! for T seconds of history) saved as the master saves them every second
//! (`RunStats::save`, JSON with base64 histograms, written beside its place
//! and renamed into it), N times; prints the time per snapshot and its size.
//!
//! `cargo run --release -p stampede-common --example state_cost -- E S T N`

use std::time::{Duration, Instant, SystemTime};

use stampede_common::stats::{Load, Measured, Recorder, RunStats, StatsKey};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let [endpoints, samples, seconds, rounds] = args[..] else {
        eprintln!("usage: state_cost ENDPOINTS SAMPLES SECONDS ROUNDS");
        std::process::exit(2);
    };
    let keys: Vec<StatsKey> = (0..endpoints)
        .map(|i| StatsKey::new("GET", format!("/endpoint/{i}")))
        .collect();
    let recorder = Recorder::new(keys);
    let t0 = SystemTime::now() - Duration::from_secs(seconds + 5);
    let mut run = RunStats::new(t0);
    for s in 0..seconds {
        for e in 0..endpoints as usize {
            for i in 0..samples {
                recorder.record(e, 1000 + fastrand::u64(..200_000) + i, 512, None);
            }
        }
        let end = t0 + Duration::from_secs(s + 1);
        let m = Measured::before(end, Duration::ZERO, Duration::from_secs(1));
        run.add(&recorder.take(), m, end);
        run.tick(end + Duration::from_secs(1), Load::default());
    }
    let dir = std::env::temp_dir().join(format!("state-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (path, partial) = (dir.join("stats.json"), dir.join("stats.partial"));
    let start = Instant::now();
    let mut size = 0;
    for _ in 0..rounds {
        let bytes = serde_json::to_vec(&run.save()).unwrap();
        size = bytes.len();
        std::fs::write(&partial, &bytes).unwrap();
        std::fs::rename(&partial, &path).unwrap();
    }
    let per = start.elapsed().as_secs_f64() * 1e3 / rounds as f64;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{endpoints} endpoints, {seconds} s of history: {per:.2} ms per snapshot, {} kB",
        size / 1024
    );
}
