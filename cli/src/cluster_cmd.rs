//! The cluster subcommands, `master` and `worker`, and the run plan they
//! share with `run`.

use std::process::ExitCode;
use std::sync::Arc;

use stampede_common::scenario::{Scenario, ScenarioSource};
use stampede_master::cluster::headless::{HeadlessConfig, run_headless};
use stampede_master::cluster::{self, MasterConfig, MasterHandle, RunPlan};
use stampede_proto::v1::RunSettings;
use stampede_worker::EngineConfig;
use stampede_worker::agent::{AgentConfig, AgentError, AgentStatus, run_agent};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cli::{LoadArgs, MasterArgs, OutputArgs, WorkerArgs};
use crate::commands::{
    EXIT_CANNOT_RUN, Failure, engine_config, finish, load_scenario, metrics_listener,
    print_interval, thresholds, usage,
};
use crate::signal;

fn cannot_run(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_CANNOT_RUN,
        message: message.into(),
    }
}

fn read_file(flag: &str, path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        usage(format!(
            "{flag} {}: {}",
            path.display(),
            e.to_string().to_lowercase()
        ))
    })
}

pub(crate) fn plan(
    source: ScenarioSource,
    scenario: Scenario,
    load: &LoadArgs,
    engine: &EngineConfig,
) -> Result<RunPlan, Failure> {
    let host = engine
        .host
        .clone()
        .or_else(|| scenario.host.clone())
        .ok_or_else(|| usage("no target host: pass --host or set `host:` in the scenario"))?;
    match url::Url::parse(&host) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(usage(format!(
                "invalid host `{host}`: expected a url like http://127.0.0.1:8000"
            )));
        }
    }
    stampede_master::plan::select_classes(&scenario, &load.classes)
        .map_err(|e| usage(e.to_string()))?;
    Ok(RunPlan {
        source,
        scenario: Arc::new(scenario),
        users: load.users,
        spawn_rate: load.spawn_rate,
        classes: load.classes.clone(),
        settings: RunSettings {
            host,
            insecure: engine.http.insecure,
            ca_cert_pem: engine.http.ca_cert_pem.clone().unwrap_or_default(),
            stop_timeout_ms: engine.stop_timeout.as_millis() as u64,
            request_timeout_ms: engine.default_timeout.as_millis() as u64,
        },
    })
}

async fn headless(
    handle: &MasterHandle,
    plan: RunPlan,
    cfg: HeadlessConfig,
    output: &OutputArgs,
    shutdown: CancellationToken,
) -> Result<ExitCode, Failure> {
    let report = run_headless(handle, plan, cfg, shutdown).await?;
    finish(&report, output)
}

pub(crate) async fn master(args: MasterArgs) -> Result<ExitCode, Failure> {
    let (source, scenario) = load_scenario(&args.load.file)?;
    let engine = engine_config(&args.load)?;
    let thresholds = thresholds(&scenario, &args.output)?;
    let stages = crate::commands::stages(&scenario, &args.load)?;
    let plan = plan(source, scenario, &args.load, &engine)?;
    let metrics = metrics_listener(&args.output).await?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some((read_file("--tls-cert", c)?, read_file("--tls-key", k)?)),
        _ => None,
    };
    if !args.headless {
        warn!("the web ui is not built yet: running headless");
    }
    let listener = TcpListener::bind(&args.bind).await.map_err(|e| {
        cannot_run(format!(
            "cannot listen on {}: {}",
            args.bind,
            e.to_string().to_lowercase()
        ))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| cannot_run(e.to_string()))?;
    if args.token.is_empty() && !addr.ip().is_loopback() {
        warn!(%addr, "no --token: any worker that reaches this address can join");
    }
    info!(%addr, tls = tls.is_some(), "master listening for workers");
    let shutdown = CancellationToken::new();
    signal::spawn_handler(shutdown.clone());
    let server_stop = CancellationToken::new();
    if let Some(addr) = &args.health_listen {
        crate::health::serve(addr, || true, server_stop.clone()).await?;
    }
    let m = cluster::start(
        listener,
        MasterConfig {
            token: args.token.clone(),
            tls,
            ..MasterConfig::default()
        },
        server_stop.clone(),
    )?;
    if let Some(l) = metrics {
        stampede_master::metrics::serve(l, m.handle.clone(), server_stop.clone());
    }
    let cfg = HeadlessConfig {
        expect_workers: args.expect_workers,
        expect_workers_max_wait: args.expect_workers_max_wait,
        run_time: args.load.run_time,
        print_interval: print_interval(&args.output),
        thresholds,
        stages,
    };
    let code = headless(&m.handle, plan, cfg, &args.output, shutdown).await;
    server_stop.cancel();
    code
}

/// A worker id that is stable for this process: host, pid and a random suffix.
fn default_worker_id() -> String {
    format!(
        "{}-{}-{:04x}",
        stampede_worker::agent::hostname(),
        std::process::id(),
        fastrand::u16(..)
    )
}

pub(crate) async fn worker(args: WorkerArgs) -> Result<ExitCode, Failure> {
    let scheme = if args.tls_ca.is_some() {
        "https"
    } else {
        "http"
    };
    let master_url = if args.master.contains("://") {
        args.master.clone()
    } else {
        format!("{scheme}://{}", args.master)
    };
    let mut cfg = AgentConfig::new(
        master_url,
        args.token.clone(),
        args.id.clone().unwrap_or_else(default_worker_id),
    );
    cfg.tls_ca = args
        .tls_ca
        .as_deref()
        .map(|p| read_file("--tls-ca", p))
        .transpose()?;
    cfg.tls_domain = args.tls_domain.clone();
    cfg.master_timeout = args.master_timeout;
    let (status_tx, status) = tokio::sync::watch::channel(AgentStatus::default());
    cfg.status = Some(status_tx);
    info!(worker = %cfg.worker_id, master = %cfg.master_url, "worker starting");
    let shutdown = CancellationToken::new();
    signal::spawn_handler(shutdown.clone());
    if let Some(addr) = &args.health_listen {
        let ready = move || status.borrow().connected;
        crate::health::serve(addr, ready, shutdown.clone()).await?;
    }
    match run_agent(cfg, shutdown).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ AgentError::Refused(_)) => Err(usage(e.to_string())),
        Err(e) => Err(usage(e.to_string())),
    }
}
