//! The worker alone against a scripted fake master over real gRPC on
//! 127.0.0.1 port 0: the test plays the master's side of the stream message
//! by message. A `Spawn` that names a user class the scenario does not have
//! is answered with `RunFailed` (never a panic), and the same worker then
//! serves the next run, its requests counted against the shop target.

use std::sync::Mutex;
use std::time::Duration;

use stampede_common::run::{Assignment, RunSettings, UserSlot};
use stampede_common::scenario::ScenarioSource;
use stampede_proto::PROTOCOL_VERSION;
use stampede_proto::convert::{assignment_to_wire, scenario_to_wire};
use stampede_proto::v1::coordinator_server::{Coordinator, CoordinatorServer};
use stampede_proto::v1::{self, master_message, worker_message};
use stampede_shop::{Shop, ShopConfig};
use stampede_worker::agent::{AgentConfig, run_agent};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

type Out = mpsc::Sender<Result<v1::MasterMessage, Status>>;

/// The test's ends of the one stream: where the worker's messages go, and
/// the master's messages to the worker.
type Link = (
    mpsc::Sender<v1::WorkerMessage>,
    mpsc::Receiver<Result<v1::MasterMessage, Status>>,
);

/// Hands the one worker stream to the test: what the worker sends, and
/// where the test writes the master's messages.
struct FakeMaster {
    conn: Mutex<Option<Link>>,
}

#[tonic::async_trait]
impl Coordinator for FakeMaster {
    type AttachStream = ReceiverStream<Result<v1::MasterMessage, Status>>;

    async fn attach(
        &self,
        req: Request<Streaming<v1::WorkerMessage>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let (to_test, from_test) = self
            .conn
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| Status::unavailable("the fake master takes one stream"))?;
        let mut inbound = req.into_inner();
        tokio::spawn(async move {
            while let Ok(Some(m)) = inbound.message().await {
                if to_test.send(m).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(from_test)))
    }
}

async fn send(out: &Out, kind: master_message::Kind) {
    out.send(Ok(v1::MasterMessage { kind: Some(kind) }))
        .await
        .expect("the worker's stream is open");
}

/// The next worker message that `pick` accepts (heartbeats and others are skipped).
async fn next<T>(
    rx: &mut mpsc::Receiver<v1::WorkerMessage>,
    what: &str,
    mut pick: impl FnMut(worker_message::Kind) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let m = rx.recv().await.expect("the worker's stream is open");
            if let Some(t) = m.kind.and_then(&mut pick) {
                return t;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn prepare(run_id: u64, shop_url: &str) -> master_message::Kind {
    let yaml = "users:\n  - name: Only\n    wait: {constant: 20ms}\n    sequence: [{get: /api/products/}]\n";
    let mut settings = RunSettings::new(shop_url.parse().unwrap());
    settings.request_timeout = Duration::from_secs(5);
    master_message::Kind::Prepare(v1::Prepare {
        run_id,
        scenario: Some(scenario_to_wire(&ScenarioSource::from_text(
            "one.yaml", yaml,
        ))),
        settings: Some(v1::RunSettings::from(&settings)),
    })
}

fn spawn(run_id: u64, class: usize) -> master_message::Kind {
    let users = Assignment::Users {
        users: vec![UserSlot { index: 0, class }],
        spawn_rate: 100.0,
    };
    master_message::Kind::Spawn(assignment_to_wire(run_id, &users))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawn_naming_an_unknown_class_fails_the_run_and_the_worker_serves_on() {
    let shop_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop_url = format!("http://{}", shop_listener.local_addr().unwrap());
    let shop = Shop::new(ShopConfig::default());
    let stop = CancellationToken::new();
    tokio::spawn(
        shop.clone()
            .serve(shop_listener, stop.clone().cancelled_owned()),
    );

    let (to_test, mut from_worker) = mpsc::channel(1024);
    let (out, to_worker) = mpsc::channel(64);
    let fake = FakeMaster {
        conn: Mutex::new(Some((to_test, to_worker))),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CoordinatorServer::new(fake))
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(listener),
                stop.clone().cancelled_owned(),
            ),
    );
    let agent = tokio::spawn(run_agent(
        AgentConfig::new(format!("http://{addr}"), "", "lonely"),
        stop.child_token(),
    ));

    let hello = next(&mut from_worker, "hello", |k| match k {
        worker_message::Kind::Hello(h) => Some(h),
        _ => None,
    })
    .await;
    assert_eq!(hello.worker_id, "lonely");
    send(
        &out,
        master_message::Kind::Welcome(v1::Welcome {
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms: 1000,
        }),
    )
    .await;

    // Run 1: the scenario has one class; the spawn names class 5.
    send(&out, prepare(1, &shop_url)).await;
    send(&out, spawn(1, 5)).await;
    let failed = next(&mut from_worker, "run_failed", |k| match k {
        worker_message::Kind::RunFailed(f) => Some(f),
        _ => None,
    })
    .await;
    assert_eq!(failed.run_id, 1);
    assert_eq!(
        failed.error,
        "invalid assignment: the assignment names user class 5, but the scenario has 1"
    );
    assert!(!agent.is_finished(), "the worker is still serving");

    // Run 2, well formed: the same worker runs it.
    send(&out, prepare(2, &shop_url)).await;
    send(&out, spawn(2, 0)).await;
    let mut counted = 0;
    while counted < 20 {
        let report = next(&mut from_worker, "a report of run 2", |k| match k {
            worker_message::Kind::Stats(r) if r.run_id == 2 => Some(r),
            _ => None,
        })
        .await;
        counted += report.endpoints.iter().map(|e| e.requests).sum::<u64>();
        send(
            &out,
            master_message::Kind::Ack(v1::Ack {
                run_id: 2,
                seq: report.seq,
            }),
        )
        .await;
    }
    send(&out, master_message::Kind::Stop(v1::Stop { run_id: 2 })).await;
    let mut stopped = false;
    while !stopped {
        stopped = next(&mut from_worker, "stopped", |k| match k {
            worker_message::Kind::Stopped(s) => Some(s.run_id == 2),
            worker_message::Kind::Stats(r) => {
                counted += r.endpoints.iter().map(|e| e.requests).sum::<u64>();
                None
            }
            _ => None,
        })
        .await;
    }
    assert_eq!(
        counted,
        shop.stats().served,
        "every request of run 2 reported"
    );
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), agent)
        .await
        .expect("the worker shuts down")
        .unwrap()
        .unwrap();
}
