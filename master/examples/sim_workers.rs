//! Simulated workers for the master benchmark (`bench/master-load.sh`): N gRPC
//! streams that behave as real workers do, without sending load. Each says
//! hello, heartbeats every second and, once a run is prepared, reports E
//! request names (each an HDR histogram of S samples) every REPORT_MS
//! milliseconds on the clock's multiples of it, saying when each interval
//! was measured; it keeps its reports until the master acknowledges them,
//! and when its stream drops it reconnects with a jittered backoff and
//! resends what was not acknowledged; a stop ends its reports, as a real
//! worker's users stop. Every simulated worker sends the same interval's
//! histograms (made once, at the start): the master decodes and merges each
//! report as it would a real worker's, while the simulator itself stays
//! light (a recorder of its own per simulated worker would take 1,000
//! workers × 20 names × a dense histogram: gigabytes, and the cores the
//! master is measured on). At the end it prints the requests it
//! reported and how many of them the master acknowledged.
//!
//! `cargo run --release -p stampede-master --example sim_workers -- ADDR TOKEN N E S SECONDS [REPORT_MS]`

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stampede_common::stats::{Recorder, StatsKey};
use stampede_proto::PROTOCOL_VERSION;
use stampede_proto::convert::encode_interval;
use stampede_proto::v1::{
    self, coordinator_client::CoordinatorClient, master_message, worker_message,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

fn msg(kind: worker_message::Kind) -> v1::WorkerMessage {
    v1::WorkerMessage { kind: Some(kind) }
}

/// What the simulation counts across its workers.
#[derive(Default)]
struct Counts {
    reported: AtomicU64,
    acked: AtomicU64,
    connections: AtomicU64,
}

struct Sim {
    addr: String,
    token: String,
    /// One interval's report (run id and seq set per send), and its requests.
    template: v1::StatsReport,
    requests: u64,
    every: Duration,
    deadline: Instant,
    counts: Arc<Counts>,
}

/// A report kept until acknowledged: its seq, requests, and when it was
/// measured.
struct Kept {
    report: v1::StatsReport,
    requests: u64,
    measured: (Instant, Instant),
}

/// The next instant the clock is at a multiple of `every`.
fn next_multiple(every: Duration) -> Instant {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let n = every.as_nanos();
    Instant::now() + Duration::from_nanos((n - now.as_nanos() % n) as u64)
}

/// One interval of `endpoints` names, `samples` a second each, as a report.
fn template(endpoints: usize, samples: u64, every: Duration) -> (v1::StatsReport, u64) {
    let keys: Vec<StatsKey> = (0..endpoints)
        .map(|i| StatsKey::new("GET", format!("/endpoint/{i}")))
        .collect();
    let recorder = Recorder::new(keys);
    let per = ((samples as f64 * every.as_secs_f64()).ceil() as u64).max(1);
    for e in 0..endpoints {
        for s in 0..per {
            recorder.record(e, 1000 + fastrand::u64(..200_000) + s, 512, None);
        }
    }
    let report = encode_interval(0, 0, 10, &recorder.take()).unwrap();
    (report, endpoints as u64 * per)
}

async fn worker(sim: Arc<Sim>, id: usize) {
    let mut run_id = None;
    let mut seq = 0u64;
    let mut kept: VecDeque<Kept> = VecDeque::new();
    let mut backoff = Duration::from_millis(200);
    let mut since = Instant::now();
    while Instant::now() < sim.deadline {
        let mut client = match CoordinatorClient::connect(format!("http://{}", sim.addr)).await {
            Ok(c) => c,
            Err(_) => {
                let jitter = 0.7 + 0.6 * fastrand::f64();
                tokio::time::sleep(backoff.mul_f64(jitter)).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let (tx, rx) = mpsc::channel(256);
        let hello = v1::Hello {
            worker_id: format!("sim-{id}"),
            protocol_version: PROTOCOL_VERSION,
            cores: 1,
            hostname: "sim".into(),
            token: sim.token.clone(),
        };
        let _ = tx.send(msg(worker_message::Kind::Hello(hello))).await;
        let Ok(resp) = client.attach(ReceiverStream::new(rx)).await else {
            tokio::time::sleep(backoff).await;
            continue;
        };
        let mut inbound = resp.into_inner();
        sim.counts.connections.fetch_add(1, Ordering::Relaxed);
        backoff = Duration::from_millis(200);
        // Everything not acknowledged goes again on the new stream.
        for k in &kept {
            let mut r = k.report.clone();
            r.interval_ms = k.measured.1.duration_since(k.measured.0).as_millis() as u64;
            r.ended_ms_ago = k.measured.1.elapsed().as_millis() as u64;
            let _ = tx.send(msg(worker_message::Kind::Stats(r))).await;
        }
        let mut tick = tokio::time::interval_at(next_multiple(sim.every), sim.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_heartbeat = Instant::now() - Duration::from_secs(1);
        loop {
            tokio::select! {
                m = inbound.message() => match m {
                    Ok(Some(v1::MasterMessage { kind: Some(k) })) => match k {
                        master_message::Kind::Prepare(p) => {
                            run_id = Some(p.run_id);
                            since = Instant::now();
                        }
                        // As a real worker: its users stop, it confirms after its last report.
                        master_message::Kind::Stop(st) => {
                            run_id = None;
                            let _ = tx.send(msg(worker_message::Kind::Stopped(v1::Stopped { run_id: st.run_id }))).await;
                        }
                        master_message::Kind::Ack(a) => {
                            while kept.front().is_some_and(|k| k.report.run_id == a.run_id && k.report.seq <= a.seq) {
                                let k = kept.pop_front().expect("checked");
                                sim.counts.acked.fetch_add(k.requests, Ordering::Relaxed);
                            }
                        }
                        _ => {}
                    },
                    Ok(Some(_)) => {}
                    // Dropped: reconnect.
                    _ => break,
                },
                _ = tick.tick() => {
                    if Instant::now() >= sim.deadline {
                        return;
                    }
                    if last_heartbeat.elapsed() >= Duration::from_secs(1) {
                        last_heartbeat = Instant::now();
                        let hb = v1::Heartbeat { users: 10, cpu_percent: 0.0 };
                        if tx.send(msg(worker_message::Kind::Heartbeat(hb))).await.is_err() {
                            break;
                        }
                    }
                    let Some(run) = run_id else { continue };
                    seq += 1;
                    let now = Instant::now();
                    let mut report = sim.template.clone();
                    report.run_id = run;
                    report.seq = seq;
                    report.interval_ms = now.duration_since(since).as_millis() as u64;
                    let measured = (std::mem::replace(&mut since, now), now);
                    let requests = sim.requests;
                    sim.counts.reported.fetch_add(requests, Ordering::Relaxed);
                    kept.push_back(Kept { report: report.clone(), requests, measured });
                    if tx.send(msg(worker_message::Kind::Stats(report))).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(6..=7).contains(&args.len()) {
        eprintln!("usage: sim_workers ADDR TOKEN WORKERS ENDPOINTS SAMPLES SECONDS [REPORT_MS]");
        std::process::exit(2);
    }
    let n: usize = args[2].parse().expect("workers");
    let report_ms: u64 = args.get(6).map_or(250, |a| a.parse().expect("report ms"));
    let every = Duration::from_millis(report_ms.max(10));
    let (template, requests) = template(
        args[3].parse().expect("endpoints"),
        args[4].parse().expect("samples"),
        every,
    );
    let sim = Arc::new(Sim {
        addr: args[0].clone(),
        token: args[1].clone(),
        template,
        requests,
        every,
        deadline: Instant::now() + Duration::from_secs(args[5].parse().expect("seconds")),
        counts: Arc::new(Counts::default()),
    });
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(worker(sim.clone(), i)))
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let c = &sim.counts;
    println!(
        "simulated requests reported: {}, acknowledged: {}, connections: {} (for {n} workers)",
        c.reported.load(Ordering::Relaxed),
        c.acked.load(Ordering::Relaxed),
        c.connections.load(Ordering::Relaxed)
    );
}
