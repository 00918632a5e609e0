//! The cluster master: the gRPC server workers attach to ([`service`]), the
//! actor that owns the cluster's state and drives its runs ([`actor`]), and
//! [`MasterHandle`], what the headless loop ([`headless`]) and the web UI use
//! to start, steer, watch and stop runs.

mod actor;
pub mod headless;
pub(crate) mod intake;
mod service;
mod view;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use stampede_common::stats::HistoryPoint;
use stampede_proto::v1::coordinator_server::CoordinatorServer;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tracing::{Instrument, info_span, warn};

pub use actor::Timing;
pub use view::{ClusterView, Finished, RunView, WorkerInfo, WorkerState};

use crate::MasterError;
use crate::report::{RunReport, StopReason};
use crate::run::RunPlan;
use crate::state::Durable;
use crate::tasks::Tasks;

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

/// Talks to the master's actor.
#[derive(Debug, Clone)]
pub struct MasterHandle {
    tx: mpsc::Sender<actor::Command>,
    live: watch::Receiver<usize>,
    finished: watch::Receiver<Option<Finished>>,
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

    /// Starts a run on the connected workers; returns its id. The master
    /// drives it from then on: its run time, shape and `abort_on_fail`
    /// thresholds end it, and [`MasterHandle::finished`] shows its report.
    ///
    /// # Errors
    ///
    /// A run is already going (or still stopping), or the plan does not fit
    /// the scenario.
    pub async fn start(&self, plan: RunPlan) -> Result<u64, MasterError> {
        self.start_durable(plan, None).await
    }

    /// [`MasterHandle::start`], keeping the run's state in a state dir (and
    /// resuming the run it holds, if any).
    ///
    /// # Errors
    ///
    /// As [`MasterHandle::start`].
    pub async fn start_durable(
        &self,
        plan: RunPlan,
        durable: Option<Durable>,
    ) -> Result<u64, MasterError> {
        self.ask(|reply| actor::Command::Start {
            plan: Box::new(plan),
            durable: durable.map(Box::new),
            reply,
        })
        .await?
    }

    /// Changes the user count (and the spawn rate, if given) of the running
    /// run; returns both as they are now.
    ///
    /// # Errors
    ///
    /// No run is going, or its shape sets its users.
    pub async fn set_users(
        &self,
        users: u64,
        spawn_rate: Option<f64>,
    ) -> Result<(u64, f64), MasterError> {
        self.ask(|reply| actor::Command::SetUsers {
            users,
            spawn_rate,
            reply,
        })
        .await?
    }

    /// Stops the run and waits for the workers' last reports; returns its
    /// report. A stop already under way keeps its own reason.
    ///
    /// # Errors
    ///
    /// No run is going, or the master is gone.
    pub async fn stop(&self, reason: StopReason) -> Result<Arc<RunReport>, MasterError> {
        self.ask(|reply| actor::Command::Stop { reason, reply })
            .await?
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

    /// The report of the running run so far (for downloads during a run);
    /// `None` when no run is going.
    ///
    /// # Errors
    ///
    /// The master is gone.
    pub async fn report(&self) -> Result<Option<Arc<RunReport>>, MasterError> {
        self.ask(|reply| actor::Command::Report { reply }).await
    }

    /// The workers and the run's statistics now.
    ///
    /// # Errors
    ///
    /// The master is gone.
    pub async fn view(&self) -> Result<ClusterView, MasterError> {
        self.ask(|reply| actor::Command::View { reply }).await
    }

    /// The running run's id and history points (one a second) after
    /// `since_unix_ms`, for live charts; `None` when no run is going.
    ///
    /// # Errors
    ///
    /// The master is gone.
    pub async fn history(
        &self,
        since_unix_ms: i64,
    ) -> Result<Option<(u64, Vec<HistoryPoint>)>, MasterError> {
        self.ask(|reply| actor::Command::History {
            since_ms: since_unix_ms,
            reply,
        })
        .await
    }

    /// Waits until at least `n` workers are connected, for up to `max_wait`.
    ///
    /// # Errors
    ///
    /// Not enough workers in time ([`MasterError::NoWorkers`]), `shutdown`
    /// first ([`MasterError::Interrupted`]), or the master is gone.
    pub async fn wait_for_workers(
        &self,
        n: usize,
        max_wait: Option<Duration>,
        shutdown: &CancellationToken,
    ) -> Result<(), MasterError> {
        let mut live = self.live.clone();
        let enough = async {
            live.wait_for(|c| *c >= n)
                .await
                .map(|_| ())
                .map_err(|_| MasterError::Gone)
        };
        let bounded =
            async {
                match max_wait {
                    Some(max) => tokio::time::timeout(max, enough).await.map_err(|_| {
                        MasterError::NoWorkers {
                            want: n,
                            got: self.connected(),
                            waited: max,
                        }
                    })?,
                    None => enough.await,
                }
            };
        tokio::select! {
            r = bounded => r,
            _ = shutdown.cancelled() => Err(MasterError::Interrupted),
        }
    }

    /// Workers connected now.
    pub fn connected(&self) -> usize {
        *self.live.borrow()
    }

    /// The last finished run; changes each time a run ends.
    pub fn finished(&self) -> watch::Receiver<Option<Finished>> {
        self.finished.clone()
    }

    /// Waits for the report of run `run_id`.
    ///
    /// # Errors
    ///
    /// The master is gone.
    pub async fn wait_finished(&self, run_id: u64) -> Result<Arc<RunReport>, MasterError> {
        let mut rx = self.finished.clone();
        let done = rx
            .wait_for(|f| f.as_ref().is_some_and(|f| f.run_id == run_id))
            .await
            .map_err(|_| MasterError::Gone)?;
        Ok(done.as_ref().expect("checked").report.clone())
    }
}

/// Starts the actor and serves gRPC on `listener`, both on `tasks` until
/// it shuts down.
///
/// # Errors
///
/// Unusable TLS material.
pub fn start(
    listener: TcpListener,
    cfg: MasterConfig,
    tasks: &Tasks,
) -> Result<MasterHandle, MasterError> {
    let shutdown = tasks.token();
    let (tx, rx) = mpsc::channel(1024);
    let (live_tx, live) = watch::channel(0);
    let (finished_tx, finished) = watch::channel(None);
    let actor = actor::Actor::new(cfg.timing.clone(), live_tx, finished_tx);
    tasks.spawn(
        actor
            .run(rx, shutdown.clone())
            .instrument(info_span!("actor")),
    );
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
    let router = builder.add_service(
        CoordinatorServer::new(svc).max_decoding_message_size(stampede_proto::MAX_WORKER_MESSAGE),
    );
    tasks.spawn(async move {
        let served = router
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(listener),
                shutdown.cancelled_owned(),
            )
            .await;
        if let Err(e) = served {
            warn!(error = %e, "the grpc server failed");
        }
    });
    Ok(MasterHandle { tx, live, finished })
}
