//! The cluster master: the gRPC server workers attach to, the actor that owns
//! the cluster's state, and [`MasterHandle`], what the orchestrator (headless
//! CLI, web UI) uses to start, steer, watch and stop runs.

mod actor;
pub mod headless;
mod service;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use stampede_common::stats::{HistoryPoint, RunStats, Snapshot};
use stampede_proto::v1::coordinator_server::CoordinatorServer;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Identity, Server, ServerTlsConfig};

pub use actor::{RunPlan, Timing};

use crate::MasterError;

/// Master settings, validated by the caller.
#[derive(Debug, Clone, Default)]
pub struct MasterConfig {
    /// Workers must present this token.
    pub token: String,
    /// PEM certificate and key: serve gRPC over TLS.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    /// Protocol timing.
    pub timing: Timing,
}

/// A worker as the master sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Connected, no run.
    Ready,
    /// Connected and taking part in the run.
    Running,
    /// Disconnected or silent.
    Missing,
}

/// One row of the workers table.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerInfo {
    /// Worker id.
    pub id: String,
    /// Its host name.
    pub hostname: String,
    /// Its CPU count.
    pub cores: u32,
    /// Its process's CPU use, percent of one core, from its last heartbeat.
    pub cpu_percent: f32,
    /// Ready, running or missing.
    pub state: WorkerState,
    /// Users it runs now.
    pub users: u64,
    /// Since its last message.
    pub last_heard: Duration,
}

/// The run in progress.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    /// Run id.
    pub id: u64,
    /// Target users.
    pub users: u64,
    /// Spawn rate.
    pub spawn_rate: f64,
    /// A stop is under way.
    pub stopping: bool,
    /// Merged statistics so far.
    pub snapshot: Snapshot,
}

/// The cluster at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    /// Every worker seen.
    pub workers: Vec<WorkerInfo>,
    /// The run, if any.
    pub run: Option<RunView>,
}

/// A run after its stop (or a copy during it): everything the workers reported.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    /// The merged statistics.
    pub stats: RunStats,
    /// When it started.
    pub started: SystemTime,
    /// When the last worker stopped.
    pub ended: SystemTime,
    /// Workers that took part.
    pub workers: usize,
}

/// Talks to the master's actor.
#[derive(Debug, Clone)]
pub struct MasterHandle {
    tx: mpsc::Sender<actor::Command>,
    live: watch::Receiver<usize>,
}

impl MasterHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> actor::Command,
    ) -> Result<T, MasterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| MasterError::Gone)?;
        rx.await.map_err(|_| MasterError::Gone)
    }

    /// Starts a run on the connected workers; returns its id.
    ///
    /// # Errors
    ///
    /// A run is already going, or the plan does not fit the scenario.
    pub async fn start(&self, plan: RunPlan) -> Result<u64, MasterError> {
        self.ask(|reply| actor::Command::Start { plan, reply })
            .await?
    }

    /// Changes the user count and spawn rate of the running run.
    ///
    /// # Errors
    ///
    /// No run is going.
    pub async fn set_users(&self, users: u64, spawn_rate: f64) -> Result<(), MasterError> {
        self.ask(|reply| actor::Command::SetUsers {
            users,
            spawn_rate,
            reply,
        })
        .await?
    }

    /// Stops the run and waits for the workers' last reports.
    ///
    /// # Errors
    ///
    /// The master is gone.
    pub async fn stop(&self) -> Result<Option<FinishedRun>, MasterError> {
        self.ask(|reply| actor::Command::Stop { reply }).await
    }

    /// Forgets the run's statistics so far (the web UI's "reset stats");
    /// false when no run is going.
    ///
    /// # Errors
    ///
    /// The master is gone.
    pub async fn reset_stats(&self) -> Result<bool, MasterError> {
        self.ask(|reply| actor::Command::ResetStats { reply }).await
    }

    /// A copy of the running run's statistics, history included (for report
    /// downloads during a run); `None` when no run is going.
    ///
    /// # Errors
    ///
    /// The master is gone.
    pub async fn stats(&self) -> Result<Option<FinishedRun>, MasterError> {
        self.ask(|reply| actor::Command::Stats { reply }).await
    }

    /// The workers and the run's statistics now.
    ///
    /// # Errors
    ///
    /// The master is gone.
    pub async fn view(&self) -> Result<ClusterView, MasterError> {
        self.ask(|reply| actor::Command::View { reply }).await
    }

    /// The running run's history points (one a second) after `since_unix_ms`,
    /// for live charts; `None` when no run is going.
    ///
    /// # Errors
    ///
    /// The master is gone.
    pub async fn history(
        &self,
        since_unix_ms: i64,
    ) -> Result<Option<Vec<HistoryPoint>>, MasterError> {
        self.ask(|reply| actor::Command::History {
            since_ms: since_unix_ms,
            reply,
        })
        .await
    }

    /// Waits until at least `n` workers are connected.
    ///
    /// # Errors
    ///
    /// The master is gone.
    pub async fn wait_for_workers(&self, n: usize) -> Result<(), MasterError> {
        let mut live = self.live.clone();
        live.wait_for(|c| *c >= n)
            .await
            .map(|_| ())
            .map_err(|_| MasterError::Gone)
    }

    /// Workers connected now.
    pub fn connected(&self) -> usize {
        *self.live.borrow()
    }
}

/// A running master: its handle and its gRPC server task.
#[derive(Debug)]
pub struct Master {
    /// To steer it.
    pub handle: MasterHandle,
    /// Ends when `shutdown` fires (or the server fails).
    pub server: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// Starts the actor and serves gRPC on `listener` until `shutdown`.
///
/// # Errors
///
/// Unusable TLS material.
pub fn start(
    listener: TcpListener,
    cfg: MasterConfig,
    shutdown: CancellationToken,
) -> Result<Master, MasterError> {
    let (tx, rx) = mpsc::channel(1024);
    let (live_tx, live) = watch::channel(0);
    tokio::spawn(actor::Actor::new(cfg.timing.clone(), live_tx).run(rx));
    let svc = service::CoordinatorService {
        actor: tx.clone(),
        token: Arc::from(cfg.token.as_str()),
        next_conn: AtomicU64::new(1),
    };
    let mut builder = Server::builder().http2_keepalive_interval(Some(Duration::from_secs(10)));
    if let Some((cert, key)) = &cfg.tls {
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
            .map_err(|e| MasterError::Tls(e.to_string()))?;
    }
    let router = builder.add_service(CoordinatorServer::new(svc));
    let server = tokio::spawn(router.serve_with_incoming_shutdown(
        TcpListenerStream::new(listener),
        shutdown.cancelled_owned(),
    ));
    Ok(Master {
        handle: MasterHandle { tx, live },
        server,
    })
}
