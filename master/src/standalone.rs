//! Master and workers in one process (`stampede run`, the demo): the master
//! listens on a loopback port of its own, the workers attach to it over real
//! gRPC, and the run goes exactly as a cluster run does (one code path).

use std::sync::Arc;
use std::time::Duration;

use stampede_worker::agent::{AgentConfig, run_agent};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span, warn};

use crate::MasterError;
use crate::cluster::headless::{HeadlessConfig, Watch, run_headless};
use crate::cluster::{self, MasterConfig, MasterHandle};
use crate::report::RunReport;
use crate::run::RunPlan;
use crate::tasks::Tasks;

/// How long in-process workers may take to attach.
pub const ATTACH_WAIT: Duration = Duration::from_secs(30);

/// How long in-process workers may take to hand in their last reports and
/// leave once the run is over.
const LEAVE_GRACE: Duration = Duration::from_secs(10);

/// A master with in-process workers.
#[derive(Debug)]
pub struct LocalCluster {
    /// The master.
    pub handle: MasterHandle,
    /// How many workers were started.
    pub workers: usize,
    agents: Tasks,
}

impl LocalCluster {
    /// How a run on these workers waits for them (all, within
    /// [`ATTACH_WAIT`]) and what it shows.
    pub fn headless(&self, watch: Watch) -> HeadlessConfig {
        HeadlessConfig {
            expect_workers: self.workers,
            expect_workers_max_wait: Some(ATTACH_WAIT),
            watch,
            durable: None,
        }
    }

    /// Stops the in-process workers and waits for them to leave (before the
    /// master's servers stop, so that they leave cleanly).
    pub async fn stop_workers(&self) {
        if !self.agents.shutdown(LEAVE_GRACE).await {
            warn!("in-process workers did not leave in time");
        }
    }
}

/// Starts a master on a loopback port of its own with `workers` in-process
/// workers attached over gRPC (a random cluster token), all on `tasks`.
///
/// # Errors
///
/// The loopback listener cannot be bound.
pub async fn start_local_cluster(
    workers: usize,
    tasks: &Tasks,
) -> Result<LocalCluster, MasterError> {
    let bind_err = |e: std::io::Error| MasterError::Bind(e.to_string().to_lowercase());
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let token = format!("{:032x}", fastrand::u128(..));
    let handle = cluster::start(
        listener,
        MasterConfig {
            token: token.clone(),
            ..MasterConfig::default()
        },
        tasks,
    )?;
    let agents = tasks.subtree();
    let workers = workers.max(1);
    for i in 0..workers {
        let id = format!("local-{i}");
        let agent = AgentConfig::new(format!("http://{addr}"), token.clone(), id.clone());
        let stop = agents.token();
        agents.spawn(
            async move {
                if let Err(e) = run_agent(agent, stop).await {
                    warn!(error = %e, "in-process worker gave up");
                }
            }
            .instrument(info_span!("worker", worker.id = %id)),
        );
    }
    Ok(LocalCluster {
        handle,
        workers,
        agents,
    })
}

/// Runs `plan` on `workers` in-process workers until it ends or `shutdown`;
/// the workers have left when it returns.
///
/// # Errors
///
/// The loopback listener cannot be bound, or the run cannot start.
pub async fn run_standalone(
    local: &LocalCluster,
    plan: RunPlan,
    watch: Watch,
    shutdown: CancellationToken,
) -> Result<Arc<RunReport>, MasterError> {
    let report = run_headless(&local.handle, plan, local.headless(watch), shutdown).await;
    local.stop_workers().await;
    report
}
