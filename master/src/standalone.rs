//! `stampede run`: the master and its workers in one process. The master
//! listens on a loopback port of its own, the workers attach to it over real
//! gRPC, and the run goes exactly as a cluster run does (one code path).

use std::time::Duration;

use stampede_worker::agent::{AgentConfig, run_agent};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::MasterError;
use crate::cluster::headless::{HeadlessConfig, run_headless};
use crate::cluster::{self, MasterConfig, MasterHandle, RunPlan};
use crate::report::RunReport;

/// How long in-process workers may take to attach.
const ATTACH_WAIT: Duration = Duration::from_secs(30);

/// A standalone run.
#[derive(Debug)]
pub struct StandaloneConfig {
    /// In-process workers (at least 1).
    pub workers: usize,
    /// Stop after this long; `None` runs until `shutdown`.
    pub run_time: Option<Duration>,
    /// Print the live table this often (to stderr).
    pub print_interval: Option<Duration>,
    /// Pass/fail criteria.
    pub thresholds: Vec<stampede_common::thresholds::Threshold>,
    /// Serve Prometheus metrics on this listener during the run.
    pub metrics: Option<TcpListener>,
    /// Follow this load shape instead of the plan's users.
    pub stages: Option<stampede_common::shape::Stages>,
}

/// Starts a master on a loopback port of its own with `workers` in-process
/// workers attached over gRPC (a random cluster token); all stop with `stop`.
///
/// # Errors
///
/// The loopback listener cannot be bound.
pub async fn start_local_cluster(
    workers: usize,
    stop: CancellationToken,
) -> Result<MasterHandle, MasterError> {
    let bind_err = |e: std::io::Error| MasterError::Bind(e.to_string().to_lowercase());
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    let token = format!("{:032x}", fastrand::u128(..));
    let master = cluster::start(
        listener,
        MasterConfig {
            token: token.clone(),
            ..MasterConfig::default()
        },
        stop.clone(),
    )?;
    for i in 0..workers {
        let agent = AgentConfig::new(
            format!("http://{addr}"),
            token.clone(),
            format!("local-{i}"),
        );
        tokio::spawn(run_agent(agent, stop.child_token()));
    }
    Ok(master.handle)
}

/// Runs `plan` on `cfg.workers` in-process workers until its run time or `shutdown`.
///
/// # Errors
///
/// The loopback listener cannot be bound, or the run cannot start.
pub async fn run_standalone(
    plan: RunPlan,
    cfg: StandaloneConfig,
    shutdown: CancellationToken,
) -> Result<RunReport, MasterError> {
    let workers = cfg.workers.max(1);
    let stop = CancellationToken::new();
    let master = start_local_cluster(workers, stop.clone()).await?;
    if let Some(l) = cfg.metrics {
        crate::metrics::serve(l, master.clone(), stop.clone());
    }
    let headless = HeadlessConfig {
        expect_workers: workers,
        expect_workers_max_wait: Some(ATTACH_WAIT),
        run_time: cfg.run_time,
        print_interval: cfg.print_interval,
        thresholds: cfg.thresholds,
        stages: cfg.stages,
    };
    let report = run_headless(&master, plan, headless, shutdown).await;
    stop.cancel();
    report
}
