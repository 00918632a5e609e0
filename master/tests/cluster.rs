//! The cluster over real gRPC on loopback: even splits and rebalancing,
//! workers cut off, disconnected and reconnected, refused, silent or
//! orphaned, TLS, and counts checked against what the shop served.

mod support;

use std::time::Duration;

use stampede_master::cluster::{MasterConfig, WorkerState};
use stampede_proto::PROTOCOL_VERSION;
use stampede_proto::v1::{self, worker_message};
use stampede_worker::agent::{AgentError, run_agent};
use support::{Cluster, TOKEN, agent_config, raw_attach, wait_status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Each user requests a product list every 200 ms.
const STEADY: &str =
    "users:\n  - name: U\n    wait: {constant: 200ms}\n    sequence: [{get: /api/products/}]\n";

fn counted(run: &stampede_master::report::RunReport) -> u64 {
    run.stats.total().requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_split_evenly_and_rebalance_as_workers_join_and_leave() {
    let mut c = Cluster::start(3).await;
    c.master.start(c.plan(STEADY, 300, 3000.0)).await.unwrap();
    c.wait_users(&[("w0", 100), ("w1", 100), ("w2", 100)]).await;

    c.add_worker("w3", false).await;
    c.wait_users(&[("w0", 75), ("w1", 75), ("w2", 75), ("w3", 75)])
        .await;

    // w1 leaves on purpose: the others take its users, and its last reports arrive.
    c.workers[1].stop.cancel();
    c.wait_users(&[("w0", 100), ("w2", 100), ("w3", 100)]).await;
    c.wait_state("w1", WorkerState::Missing, Duration::from_secs(5))
        .await;

    let run = c.stop().await;
    assert!(counted(&run) > 0);
    assert_eq!(
        counted(&run),
        c.served(),
        "merged count equals what the shop served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_count_and_weights_hold_cluster_wide() {
    let c = Cluster::start(2).await;
    let yaml = "users:\n  - name: A\n    weight: 3\n    wait: {constant: 1s}\n    sequence: [{get: /api/products/}]\n  - name: B\n    wait: {constant: 1s}\n    sequence: [{get: /api/products/1/}]\n  - name: Admin\n    fixed_count: 1\n    wait: {constant: 1s}\n    sequence: [{get: /api/products/2/}]\n";
    c.master.start(c.plan(yaml, 41, 1000.0)).await.unwrap();
    c.wait_users(&[("w0", 21), ("w1", 20)]).await;
    // Heartbeats carry each worker's CPU use (these workers share the test process).
    let m = c.master.clone();
    support::wait_until("workers report their cpu", Duration::from_secs(10), || {
        let m = m.clone();
        async move {
            m.view()
                .await
                .unwrap()
                .workers
                .iter()
                .all(|w| w.cpu_percent > 0.0)
        }
    })
    .await;
    let run = c.stop().await;
    let snap = run.stats.snapshot(run.ended);
    let by = |n: &str| {
        snap.rows
            .iter()
            .find(|r| r.name == n)
            .map_or(0, |r| r.requests)
    };
    // Every user makes its first request at once: 30 A, 10 B, 1 Admin.
    assert!(
        by("/api/products/") >= 30 && by("/api/products/1/") >= 10 && by("/api/products/2/") >= 1
    );
    assert_eq!(counted(&run), c.served());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_is_marked_missing_and_its_users_move() {
    let c = Cluster::start(3).await;
    c.master.start(c.plan(STEADY, 30, 1000.0)).await.unwrap();
    c.wait_users(&[("w0", 10), ("w1", 10), ("w2", 10)]).await;
    c.wait_served(100).await;

    // Kill w2 as a crash would: its task and connection vanish at once.
    c.workers[2].task.abort();
    c.wait_state("w2", WorkerState::Missing, Duration::from_secs(3))
        .await;
    c.wait_users(&[("w0", 15), ("w1", 15)]).await;
    c.wait_served(c.served() + 100).await;

    let run = c.stop().await;
    let (served, counted) = (c.served(), counted(&run));
    // What the dead worker measured after its last report is lost with it: at
    // most one report interval (1 s) of its 10 users, each making a request
    // every >= 200 ms (<= 6 per interval), plus the one each had in flight.
    let bound = 10 * (6 + 1);
    assert!(counted <= served, "counted {counted} > served {served}");
    assert!(
        served - counted <= bound,
        "lost {} requests, bound {bound}",
        served - counted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_worker_resends_its_reports_once_on_reconnect() {
    let mut c = Cluster::start(1).await;
    let cut = c.add_worker("w-cut", true).await;
    c.wait_connected(2).await;
    c.master.start(c.plan(STEADY, 20, 1000.0)).await.unwrap();
    c.wait_users(&[("w0", 10), ("w-cut", 10)]).await;
    c.wait_served(50).await;

    c.workers[cut].proxy.as_ref().unwrap().cut();
    c.wait_state("w-cut", WorkerState::Missing, Duration::from_secs(3))
        .await;
    c.wait_users(&[("w0", 20)]).await;
    // Cut off, it measures on into its outbox.
    wait_status(&c.workers[cut], "buffers reports", |s| {
        !s.connected && s.unacked >= 2
    })
    .await;

    c.workers[cut].proxy.as_ref().unwrap().restore();
    wait_status(
        &c.workers[cut],
        "reconnects and is fully acknowledged",
        |s| s.connected && s.connections >= 2 && s.unacked == 0,
    )
    .await;
    c.wait_users(&[("w0", 10), ("w-cut", 10)]).await;

    let run = c.stop().await;
    assert_eq!(
        counted(&run),
        c.served(),
        "every buffered report merged exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_master_vanishes_stops_its_load() {
    let mut c = Cluster::start(1).await;
    let (mut cfg, status) = agent_config(String::new(), TOKEN, "orphan");
    let proxy = support::CutProxy::start(c.addr).await;
    cfg.master_url = format!("http://{}", proxy.addr);
    cfg.master_timeout = Duration::from_secs(1);
    let i = c.add_agent("orphan", cfg, status, Some(proxy));
    c.wait_connected(2).await;
    c.master.start(c.plan(STEADY, 10, 1000.0)).await.unwrap();
    wait_status(&c.workers[i], "runs users", |s| s.users == 5).await;

    c.workers[i].proxy.as_ref().unwrap().cut();
    wait_status(&c.workers[i], "stops its load", |s| {
        !s.connected && s.users == 0 && s.run.is_none()
    })
    .await;
    // It keeps trying to reach a master, and the master keeps serving the others.
    wait_status(&c.workers[i], "keeps retrying", |s| s.last_error.is_some()).await;
    assert!(!c.workers[i].task.is_finished());
    c.wait_users(&[("w0", 10)]).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_and_the_master_serves_on() {
    let c = Cluster::start(1).await;
    let (cfg, _status) = agent_config(format!("http://{}", c.addr), "wrong-token", "intruder");
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        run_agent(cfg, CancellationToken::new()),
    )
    .await
    .expect("a refused worker must not hang")
    .unwrap_err();
    assert!(
        matches!(&err, AgentError::Refused(m) if m == "invalid cluster token"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the master refused this worker: invalid cluster token"
    );
    assert_eq!(c.master.connected(), 1);
    c.master.start(c.plan(STEADY, 2, 100.0)).await.unwrap();
    c.wait_users(&[("w0", 2)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_protocol_version_is_refused_with_both_versions() {
    let c = Cluster::start(1).await;
    let (_tx, res) = raw_attach(&c, "raw", PROTOCOL_VERSION + 98).await;
    let status = res.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        format!(
            "protocol version mismatch: the worker speaks {}, the master speaks {PROTOCOL_VERSION}",
            PROTOCOL_VERSION + 98
        )
    );
    assert_eq!(c.master.connected(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_stops_heartbeating_is_missing_until_heard_again() {
    let c = Cluster::start(0).await;
    let (tx, res) = raw_attach(&c, "raw", PROTOCOL_VERSION).await;
    let mut inbound = res.unwrap();
    let first = inbound.message().await.unwrap().unwrap();
    assert!(matches!(
        first.kind,
        Some(v1::master_message::Kind::Welcome(_))
    ));
    let heartbeat = async |users| {
        let hb = v1::Heartbeat {
            users,
            cpu_percent: 0.0,
        };
        tx.send(v1::WorkerMessage {
            kind: Some(worker_message::Kind::Heartbeat(hb)),
        })
        .await
        .unwrap();
    };
    heartbeat(5).await;
    c.wait_state("raw", WorkerState::Ready, Duration::from_secs(2))
        .await;
    // It never heartbeats again: missing after the 3 s silence, while its stream stays open.
    c.wait_state("raw", WorkerState::Missing, Duration::from_secs(6))
        .await;
    assert_eq!(c.master.connected(), 0);
    // Missing, its users count for nothing (a killed container's stream can
    // stay open long after its users are gone).
    let users: Vec<u64> = c.view().await.workers.iter().map(|w| w.users).collect();
    assert_eq!(users, [0]);
    // Its stream lived on: one heartbeat, and it is back for good.
    heartbeat(0).await;
    c.wait_state("raw", WorkerState::Ready, Duration::from_secs(2))
        .await;
    assert_eq!(c.master.connected(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_grpc_port_does_not_hurt_the_master() {
    let mut c = Cluster::start(0).await;
    let mut sock = tokio::net::TcpStream::connect(c.addr).await.unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02garbage\xff\xfe")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut buf))
        .await
        .expect("the master closes the connection");
    c.add_worker("after-garbage", false).await;
    c.wait_connected(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_runs_over_tls_and_refuses_a_worker_without_the_ca() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let cfg = MasterConfig {
        token: TOKEN.into(),
        tls: Some((cert_pem.clone().into_bytes(), key_pem.into_bytes())),
        ..MasterConfig::default()
    };
    let mut c = Cluster::builder().config(cfg).build().await;

    let (mut good, good_status) = agent_config(
        format!("https://127.0.0.1:{}", c.addr.port()),
        TOKEN,
        "tls-ok",
    );
    good.tls_ca = Some(cert_pem.into_bytes());
    good.tls_domain = Some("localhost".into());
    c.add_agent("tls-ok", good, good_status, None);

    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (mut bad, bad_status) = agent_config(
        format!("https://127.0.0.1:{}", c.addr.port()),
        TOKEN,
        "tls-bad",
    );
    bad.tls_ca = Some(other.cert.pem().into_bytes());
    bad.tls_domain = Some("localhost".into());
    let bad_i = c.add_agent("tls-bad", bad, bad_status, None);

    c.wait_connected(1).await;
    c.master.start(c.plan(STEADY, 4, 100.0)).await.unwrap();
    c.wait_users(&[("tls-ok", 4)]).await;
    c.wait_served(20).await;
    wait_status(&c.workers[bad_i], "fails the tls handshake", |s| {
        s.last_error.is_some() && !s.connected
    })
    .await;
    assert_eq!(c.master.connected(), 1);
    assert_eq!(c.workers[bad_i].status.borrow().connections, 0);
    let run = c.stop().await;
    assert_eq!(counted(&run), c.served());
}
