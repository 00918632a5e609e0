//! `stampede worker`: connects to a master and runs the users it assigns
//! (it needs no scenario file of its own).

use std::process::ExitCode;

use stampede_worker::agent::{AgentConfig, AgentStatus, hostname, run_agent};
use tracing::Instrument;

use crate::args::WorkerArgs;
use crate::exit::{Failure, io, usage};
use crate::listen;
use crate::process::{process_tasks, shut_down};

/// A worker id that is stable for this process: host, pid and a random suffix.
fn default_worker_id() -> String {
    format!(
        "{}-{}-{:04x}",
        hostname(),
        std::process::id(),
        fastrand::u16(..)
    )
}

/// Runs the worker until stopped.
///
/// # Errors
///
/// Unreadable TLS files, or a master that refuses this worker (exit 2).
pub async fn worker(args: WorkerArgs) -> Result<ExitCode, Failure> {
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
    cfg.tls_ca = match &args.tls_ca {
        Some(p) => Some(
            std::fs::read(p).map_err(|e| usage(io(&format!("--tls-ca {}", p.display()), &e)))?,
        ),
        None => None,
    };
    cfg.tls_domain = args.tls_domain.clone();
    cfg.master_timeout = args.master_timeout;
    cfg.proxy = crate::config::proxies(&args.proxy, None)?;
    let (status_tx, status) = tokio::sync::watch::channel(AgentStatus::default());
    cfg.status = Some(status_tx);
    tracing::info!(worker = %cfg.worker_id, master = %cfg.master_url, "worker starting");
    let (tasks, stop) = process_tasks();
    if let Some(addr) = &args.health_listen {
        let ready = move || status.borrow().connected;
        if let Err(f) = listen::health(addr, ready, &tasks).await {
            return shut_down(&tasks, Err(f)).await;
        }
    }
    let span = tracing::info_span!("worker", worker.id = %cfg.worker_id);
    let result = run_agent(cfg, stop)
        .instrument(span)
        .await
        .map(|()| ExitCode::SUCCESS)
        .map_err(|e| usage(e.to_string()));
    shut_down(&tasks, result).await
}
