//! The worker's link to its master: an explicit connected/disconnected state
//! machine. Connected, it runs what the master says (Prepare, Spawn, Stop),
//! heartbeats and reports every interval; disconnected, it keeps measuring
//! into the outbox, retries with a jittered backoff, and stops its load when
//! the master has been gone for `master_timeout`. Reports are resent until
//! acknowledged, so nothing measured is lost or counted twice.

mod backoff;
mod cpu;
mod outbox;

use std::sync::Arc;
use std::time::Duration;

use stampede_common::scenario::ScenarioSource;
use stampede_proto::PROTOCOL_VERSION;
use stampede_proto::v1::coordinator_client::CoordinatorClient;
use stampede_proto::v1::{self, master_message, worker_message};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use tracing::{error, info, warn};

pub use backoff::{Backoff, InvalidBackoff};
use outbox::Outbox;

use crate::http::ClientOptions;
use crate::{ArrivalShare, Engine, EngineConfig, UserSlot};

/// How the worker reaches and talks to its master.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// `http://host:port` or, with `tls_ca`, `https://host:port`.
    pub master_url: String,
    /// Shared cluster token.
    pub token: String,
    /// Stable id; a worker that reconnects with it rejoins.
    pub worker_id: String,
    /// PEM CA that signed the master's certificate (TLS to the master).
    pub tls_ca: Option<Vec<u8>>,
    /// Name to check in the master's certificate (default: the URL's host).
    pub tls_domain: Option<String>,
    /// Stop the load when the master has been unreachable this long.
    pub master_timeout: Duration,
    /// Report and heartbeat interval.
    pub interval: Duration,
    /// The master is gone when silent this long.
    pub silence_timeout: Duration,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Where the agent publishes its state (for health checks and tests).
    pub status: Option<tokio::sync::watch::Sender<AgentStatus>>,
}

/// What the agent is doing, published after every change and interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentStatus {
    /// Attached to the master now.
    pub connected: bool,
    /// Times it has attached so far.
    pub connections: u64,
    /// The run it takes part in.
    pub run: Option<u64>,
    /// Users running now.
    pub users: usize,
    /// Reports waiting for an acknowledgement.
    pub unacked: usize,
    /// The last connection error, if any.
    pub last_error: Option<String>,
}

impl AgentConfig {
    /// Defaults: 1 s reports and heartbeats, 3 s silence, 10 s master timeout,
    /// reconnect backoff 200 ms to 5 s with 30% jitter.
    pub fn new(
        master_url: impl Into<String>,
        token: impl Into<String>,
        worker_id: impl Into<String>,
    ) -> Self {
        Self {
            master_url: master_url.into(),
            token: token.into(),
            worker_id: worker_id.into(),
            tls_ca: None,
            tls_domain: None,
            master_timeout: Duration::from_secs(10),
            interval: Duration::from_secs(1),
            silence_timeout: Duration::from_secs(3),
            backoff: Backoff::try_new(Duration::from_millis(200), Duration::from_secs(5), 0.3)
                .expect("valid"),
            status: None,
        }
    }
}

/// Why the agent gave up.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The master refused this worker (wrong token or protocol version).
    #[error("the master refused this worker: {0}")]
    Refused(String),
    /// The master URL or TLS settings are unusable.
    #[error("invalid master address or tls settings: {0}")]
    Config(String),
}

/// How long a leaving worker waits for the master to acknowledge its last reports.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

struct ActiveRun {
    id: u64,
    engine: Arc<Engine>,
    /// User classes of its scenario.
    classes: usize,
    stopping: Option<oneshot::Receiver<()>>,
}

// Only one `Conn` exists at a time; boxing the stream would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Conn {
    Connected {
        tx: mpsc::Sender<v1::WorkerMessage>,
        inbound: tonic::Streaming<v1::MasterMessage>,
        last_heard: Instant,
    },
    Disconnected {
        since: Instant,
        retry_at: Instant,
    },
}

struct Agent {
    cfg: AgentConfig,
    run: Option<ActiveRun>,
    outbox: Outbox,
    /// `Stopped` messages owed to the master, sent after the reports.
    stopped_owed: Vec<u64>,
    /// Runs this worker could not take part in, owed as `RunFailed`.
    failed: Vec<(u64, String)>,
    status: AgentStatus,
    cpu: cpu::CpuMeter,
}

/// Runs the worker until `shutdown`: connects, serves runs, reconnects.
///
/// # Errors
///
/// The master refused the worker, or the master address is unusable.
pub async fn run_agent(cfg: AgentConfig, shutdown: CancellationToken) -> Result<(), AgentError> {
    let endpoint = endpoint(&cfg)?;
    let mut backoff = cfg.backoff.clone();
    let mut agent = Agent {
        cfg,
        run: None,
        outbox: Outbox::default(),
        stopped_owed: Vec::new(),
        failed: Vec::new(),
        status: AgentStatus::default(),
        cpu: cpu::CpuMeter::new(),
    };
    let mut conn = Conn::Disconnected {
        since: Instant::now(),
        retry_at: Instant::now(),
    };
    let mut ticker = tokio::time::interval(agent.cfg.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        conn = match conn {
            Conn::Disconnected { since, retry_at } => tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {
                    agent.collect();
                    if since.elapsed() >= agent.cfg.master_timeout {
                        agent.begin_stop("the master is unreachable");
                    }
                    agent.poll_stopped();
                    Conn::Disconnected { since, retry_at }
                }
                _ = tokio::time::sleep_until(retry_at) => match agent.connect(&endpoint).await {
                    Ok((tx, inbound)) => {
                        info!(master = %agent.cfg.master_url, "connected to the master");
                        agent.status.connected = true;
                        agent.status.connections += 1;
                        agent.status.last_error = None;
                        agent.publish();
                        backoff.reset();
                        agent.outbox.mark_all_unsent();
                        Conn::Connected { tx, inbound, last_heard: Instant::now() }
                    }
                    Err(ConnectError::Refused(msg)) => {
                        error!(reason = %msg, "the master refused this worker");
                        agent.status.last_error = Some(msg.clone());
                        agent.publish();
                        agent.shutdown().await;
                        return Err(AgentError::Refused(msg));
                    }
                    Err(ConnectError::Failed(msg)) => {
                        let delay = backoff.next_delay();
                        warn!(error = %msg, retry_in = ?delay, "cannot reach the master");
                        agent.status.last_error = Some(msg);
                        agent.publish();
                        Conn::Disconnected { since, retry_at: Instant::now() + delay }
                    }
                },
            },
            Conn::Connected {
                tx,
                mut inbound,
                mut last_heard,
            } => {
                let lost = tokio::select! {
                    _ = shutdown.cancelled() => {
                        agent.begin_stop("shutting down");
                        agent.finish_stop().await;
                        if agent.flush(&tx).await {
                            agent.drain_acks(&mut inbound).await;
                        }
                        break;
                    }
                    msg = inbound.message() => match msg {
                        Ok(Some(m)) => {
                            last_heard = Instant::now();
                            agent.handle(m).await;
                            None
                        }
                        Ok(None) => Some("the master closed the stream".to_owned()),
                        Err(s) => Some(format!("stream error: {}", s.message())),
                    },
                    // Users stopped: report and confirm at once, not at the next tick.
                    _ = stop_done(&mut agent.run) => {
                        agent.poll_stopped();
                        if agent.flush(&tx).await { None } else { Some("the master stream is closed".to_owned()) }
                    }
                    _ = ticker.tick() => {
                        agent.collect();
                        agent.poll_stopped();
                        if last_heard.elapsed() >= agent.cfg.silence_timeout {
                            Some(format!("no word from the master for {:?}", agent.cfg.silence_timeout))
                        } else if agent.flush(&tx).await {
                            None
                        } else {
                            Some("the master stream is closed".to_owned())
                        }
                    }
                };
                match lost {
                    None => Conn::Connected {
                        tx,
                        inbound,
                        last_heard,
                    },
                    Some(why) => {
                        warn!(reason = %why, "lost the master; measuring on and reconnecting");
                        agent.status.connected = false;
                        agent.status.last_error = Some(why);
                        agent.publish();
                        let delay = backoff.next_delay();
                        Conn::Disconnected {
                            since: Instant::now(),
                            retry_at: Instant::now() + delay,
                        }
                    }
                }
            }
        };
    }
    agent.shutdown().await;
    Ok(())
}

enum ConnectError {
    Refused(String),
    Failed(String),
}

fn endpoint(cfg: &AgentConfig) -> Result<Endpoint, AgentError> {
    let mut ep = Endpoint::from_shared(cfg.master_url.clone())
        .map_err(|e| AgentError::Config(format!("{}: {e}", cfg.master_url)))?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true);
    if let Some(ca) = &cfg.tls_ca {
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
        if let Some(d) = &cfg.tls_domain {
            tls = tls.domain_name(d.clone());
        }
        ep = ep
            .tls_config(tls)
            .map_err(|e| AgentError::Config(e.to_string()))?;
    }
    Ok(ep)
}

impl Agent {
    async fn connect(
        &mut self,
        endpoint: &Endpoint,
    ) -> Result<
        (
            mpsc::Sender<v1::WorkerMessage>,
            tonic::Streaming<v1::MasterMessage>,
        ),
        ConnectError,
    > {
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| ConnectError::Failed(error_chain(&e)))?;
        let (tx, rx) = mpsc::channel(256);
        let hello = v1::Hello {
            worker_id: self.cfg.worker_id.clone(),
            protocol_version: PROTOCOL_VERSION,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            hostname: hostname(),
            token: self.cfg.token.clone(),
        };
        let _ = tx.send(msg(worker_message::Kind::Hello(hello))).await;
        let mut client = CoordinatorClient::new(channel);
        match client.attach(ReceiverStream::new(rx)).await {
            Ok(resp) => Ok((tx, resp.into_inner())),
            Err(s)
                if matches!(
                    s.code(),
                    tonic::Code::Unauthenticated | tonic::Code::FailedPrecondition
                ) =>
            {
                Err(ConnectError::Refused(s.message().to_owned()))
            }
            Err(s) => Err(ConnectError::Failed(s.message().to_owned())),
        }
    }

    async fn handle(&mut self, m: v1::MasterMessage) {
        match m.kind {
            Some(master_message::Kind::Prepare(p)) => self.prepare(p).await,
            Some(master_message::Kind::Spawn(s)) => {
                if let Some(run) = self
                    .run
                    .as_ref()
                    .filter(|r| r.id == s.run_id && r.stopping.is_none())
                {
                    if let Some(a) = &s.arrival {
                        match ArrivalShare::from_wire(a, run.classes) {
                            Ok(share) => {
                                let _ = run.engine.set_arrival(share).await;
                            }
                            Err(e) => warn!(error = %e, "ignoring an arrival share"),
                        }
                        return;
                    }
                    let users = s
                        .users
                        .iter()
                        .map(|u| UserSlot {
                            index: u.index,
                            class: u.class as usize,
                        })
                        .collect();
                    let _ = run.engine.set_target(users, s.spawn_rate).await;
                }
            }
            Some(master_message::Kind::Stop(s)) => {
                if self.run.as_ref().is_some_and(|r| r.id == s.run_id) {
                    self.begin_stop("the master stopped the run");
                } else {
                    self.stopped_owed.push(s.run_id);
                }
            }
            Some(master_message::Kind::Ack(a)) => {
                self.outbox.ack(a.run_id, a.seq);
                self.publish();
            }
            Some(master_message::Kind::Welcome(_) | master_message::Kind::Heartbeat(_)) | None => {}
        }
    }

    async fn prepare(&mut self, p: v1::Prepare) {
        if self.run.as_ref().is_some_and(|r| r.id == p.run_id) {
            return;
        }
        if self.run.is_some() {
            self.begin_stop("a new run replaces it");
            self.finish_stop().await;
        }
        let scenario = p.scenario.unwrap_or_default();
        let settings = p.settings.unwrap_or_default();
        let source = ScenarioSource {
            path: scenario.path,
            text: scenario.text,
            files: scenario.files.into_iter().collect(),
        };
        let compiled = match source.compile() {
            Ok(s) => s,
            Err(e) => return self.fail_run(p.run_id, e.to_string()),
        };
        let cfg = EngineConfig {
            host: (!settings.host.is_empty()).then_some(settings.host),
            http: ClientOptions {
                insecure: settings.insecure,
                ca_cert_pem: (!settings.ca_cert_pem.is_empty()).then_some(settings.ca_cert_pem),
                ..ClientOptions::default()
            },
            default_timeout: Duration::from_millis(settings.request_timeout_ms.max(1)),
            stop_timeout: Duration::from_millis(settings.stop_timeout_ms),
        };
        let classes = compiled.classes.len();
        match Engine::start(Arc::new(compiled), cfg) {
            Ok(engine) => {
                info!(run = p.run_id, "run prepared");
                self.run = Some(ActiveRun {
                    id: p.run_id,
                    engine: Arc::new(engine),
                    classes,
                    stopping: None,
                });
            }
            Err(e) => self.fail_run(p.run_id, e.to_string()),
        }
    }

    fn fail_run(&mut self, run_id: u64, error: String) {
        error!(run = run_id, error = %error, "cannot take part in the run");
        self.failed.push((run_id, error));
    }

    /// Moves the interval's measurements into the outbox.
    fn collect(&mut self) {
        if let Some(run) = &self.run {
            let interval = run.engine.take_stats();
            if !interval.is_empty() {
                self.outbox
                    .push(run.id, run.engine.users() as u64, &interval);
            }
        }
        self.publish();
    }

    fn publish(&mut self) {
        self.status.run = self.run.as_ref().map(|r| r.id);
        self.status.users = self.run.as_ref().map_or(0, |r| r.engine.users());
        self.status.unacked = self.outbox.len();
        if let Some(tx) = &self.cfg.status {
            tx.send_if_modified(|s| {
                let changed = *s != self.status;
                *s = self.status.clone();
                changed
            });
        }
    }

    /// Starts stopping the users in the background (heartbeats go on meanwhile).
    fn begin_stop(&mut self, why: &str) {
        if let Some(run) = self.run.as_mut().filter(|r| r.stopping.is_none()) {
            info!(run = run.id, reason = why, "stopping users");
            let (done, rx) = oneshot::channel();
            let engine = run.engine.clone();
            tokio::spawn(async move {
                let _ = engine.stop_all().await;
                let _ = done.send(());
            });
            run.stopping = Some(rx);
        }
    }

    /// When the users have stopped: the last report, then `Stopped` is owed.
    fn poll_stopped(&mut self) {
        let done = match self.run.as_mut().and_then(|r| r.stopping.as_mut()) {
            Some(rx) => !matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            None => false,
        };
        if done {
            self.collect();
            if let Some(run) = self.run.take() {
                self.stopped_owed.push(run.id);
            }
        }
    }

    async fn finish_stop(&mut self) {
        if let Some(rx) = self.run.as_mut().and_then(|r| r.stopping.take()) {
            let _ = rx.await;
            self.collect();
            if let Some(run) = self.run.take() {
                self.stopped_owed.push(run.id);
            }
        }
    }

    /// Sends unsent reports, owed messages and a heartbeat; false when the stream is closed.
    async fn flush(&mut self, tx: &mpsc::Sender<v1::WorkerMessage>) -> bool {
        let mut out: Vec<v1::WorkerMessage> = self
            .outbox
            .take_unsent()
            .into_iter()
            .map(|r| msg(worker_message::Kind::Stats(r)))
            .collect();
        out.extend(self.failed.drain(..).map(|(run_id, error)| {
            msg(worker_message::Kind::RunFailed(v1::RunFailed {
                run_id,
                error,
            }))
        }));
        out.extend(
            self.stopped_owed
                .drain(..)
                .map(|run_id| msg(worker_message::Kind::Stopped(v1::Stopped { run_id }))),
        );
        let users = self.run.as_ref().map_or(0, |r| r.engine.users() as u64);
        out.push(msg(worker_message::Kind::Heartbeat(v1::Heartbeat {
            users,
            cpu_percent: self.cpu.sample(),
        })));
        for m in out {
            if tx.send(m).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Leaving: waits (briefly) until the master acknowledged every report,
    /// so a worker that stops on purpose loses nothing.
    async fn drain_acks(&mut self, inbound: &mut tonic::Streaming<v1::MasterMessage>) {
        let deadline = Instant::now() + LEAVE_TIMEOUT;
        while !self.outbox.is_empty() {
            match tokio::time::timeout_at(deadline, inbound.message()).await {
                Ok(Ok(Some(m))) => self.handle(m).await,
                _ => {
                    warn!(
                        unacked = self.outbox.len(),
                        "leaving with unacknowledged reports"
                    );
                    return;
                }
            }
        }
    }

    async fn shutdown(&mut self) {
        self.begin_stop("shutting down");
        self.finish_stop().await;
    }
}

/// Resolves when the run's users have all stopped; never without a stop under way.
async fn stop_done(run: &mut Option<ActiveRun>) {
    match run.as_mut().and_then(|r| r.stopping.as_mut()) {
        Some(rx) => {
            let _ = rx.await;
        }
        None => std::future::pending().await,
    }
}

fn msg(kind: worker_message::Kind) -> v1::WorkerMessage {
    v1::WorkerMessage { kind: Some(kind) }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// This machine's host name, for the master's worker table.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
