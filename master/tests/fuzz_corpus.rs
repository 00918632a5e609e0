//! Every committed input of the worker-messages fuzz target
//! (`fuzz/corpus/worker_messages/`: seeds and the cases it once broke),
//! merged within the run's bounds. `write_seeds` (ignored) made the seeds.

use std::path::{Path, PathBuf};

use prost::Message;
use stampede_common::stats::{Recorder, StatsKey};
use stampede_proto::convert::encode_interval;
use stampede_proto::v1::{self, worker_message};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn reports_merge_within_bounds_on_every_committed_input() {
    stampede_common::fuzzing::replay(
        &root(),
        "worker_messages",
        stampede_master::fuzzing::worker_messages,
    );
}

/// Writes the seeds: a few reports as a worker sends them (one endpoint, a
/// failure and an exception, many names, a heartbeat between).
/// `cargo test -p stampede-master --test fuzz_corpus -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/worker_messages/ (run by hand)"]
fn write_seeds() {
    let dir = root().join("fuzz/corpus/worker_messages");
    std::fs::create_dir_all(&dir).unwrap();
    let report = |seq: u64, names: usize| {
        let keys = (0..names)
            .map(|i| StatsKey::new("GET", format!("/item/{i}")))
            .collect();
        let r = Recorder::new(keys);
        for i in 0..names {
            r.record(
                i,
                1_000 + i as u64 * 37,
                120,
                (i % 3 == 0).then_some("status 500"),
            );
        }
        r.record_exception("template error: undefined value");
        let mut rep = encode_interval(1, seq, 4, &r.take()).unwrap();
        rep.interval_ms = 250;
        rep.ended_ms_ago = 10;
        v1::WorkerMessage {
            kind: Some(worker_message::Kind::Stats(rep)),
        }
    };
    let heartbeat = v1::WorkerMessage {
        kind: Some(worker_message::Kind::Heartbeat(v1::Heartbeat {
            users: 4,
            cpu_percent: 12.5,
        })),
    };
    let seeds: [(&str, Vec<v1::WorkerMessage>); 3] = [
        ("one-report", vec![report(1, 1)]),
        (
            "reports-and-heartbeat",
            vec![report(1, 3), heartbeat, report(2, 2)],
        ),
        ("many-names", vec![report(1, 40), report(1, 40)]),
    ];
    for (name, msgs) in seeds {
        let mut bytes = Vec::new();
        for m in msgs {
            m.encode_length_delimited(&mut bytes).unwrap();
        }
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
