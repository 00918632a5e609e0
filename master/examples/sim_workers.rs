//! Simulated workers for the master benchmark (`bench/master-load.sh`): N gRPC
//! streams that say hello, heartbeat every second and, once a run is
//! prepared, report E request names every second (each with an HDR
//! histogram of S samples), exactly as real workers do, without sending load.
//!
//! `cargo run --release -p stampede-master --example sim_workers -- ADDR TOKEN N E S SECONDS`

use std::time::Duration;

use stampede_common::stats::{Recorder, StatsKey};
use stampede_proto::PROTOCOL_VERSION;
use stampede_proto::convert::encode_interval;
use stampede_proto::v1::{
    self, coordinator_client::CoordinatorClient, master_message, worker_message,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn msg(kind: worker_message::Kind) -> v1::WorkerMessage {
    v1::WorkerMessage { kind: Some(kind) }
}

async fn worker(
    addr: String,
    token: String,
    id: usize,
    endpoints: usize,
    samples: u64,
    seconds: u64,
) -> u64 {
    let mut client = loop {
        match CoordinatorClient::connect(format!("http://{addr}")).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let (tx, rx) = mpsc::channel(64);
    let hello = v1::Hello {
        worker_id: format!("sim-{id}"),
        protocol_version: PROTOCOL_VERSION,
        cores: 1,
        hostname: "sim".into(),
        token,
    };
    tx.send(msg(worker_message::Kind::Hello(hello)))
        .await
        .unwrap();
    let mut inbound = client
        .attach(ReceiverStream::new(rx))
        .await
        .expect("attach")
        .into_inner();
    let keys: Vec<StatsKey> = (0..endpoints)
        .map(|i| StatsKey::new("GET", format!("/endpoint/{i}")))
        .collect();
    let recorder = Recorder::new(keys);
    let mut run_id = None;
    let mut seq = 0u64;
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        tokio::select! {
            m = inbound.message() => match m {
                Ok(Some(v1::MasterMessage { kind: Some(master_message::Kind::Prepare(p)) })) => run_id = Some(p.run_id),
                Ok(Some(_)) => {}
                _ => break,
            },
            _ = tick.tick() => {
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                let _ = tx.send(msg(worker_message::Kind::Heartbeat(v1::Heartbeat { users: 10, cpu_percent: 0.0 }))).await;
                if let Some(run) = run_id {
                    for e in 0..endpoints {
                        for s in 0..samples {
                            recorder.record(e, 1000 + fastrand::u64(..200_000) + s, 512, None);
                        }
                    }
                    seq += 1;
                    let report = encode_interval(run, seq, 10, &recorder.take()).unwrap();
                    if tx.send(msg(worker_message::Kind::Stats(report))).await.is_err() {
                        break;
                    }
                    sent += endpoints as u64 * samples;
                }
            }
        }
    }
    sent
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 6 {
        eprintln!("usage: sim_workers ADDR TOKEN WORKERS ENDPOINTS SAMPLES SECONDS");
        std::process::exit(2);
    }
    let n: usize = args[2].parse().expect("workers");
    let endpoints: usize = args[3].parse().expect("endpoints");
    let samples: u64 = args[4].parse().expect("samples");
    let seconds: u64 = args[5].parse().expect("seconds");
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            tokio::spawn(worker(
                args[0].clone(),
                args[1].clone(),
                i,
                endpoints,
                samples,
                seconds,
            ))
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    println!("simulated requests reported: {total}");
}
