//! `stampede master`: the master of a cluster; headless (wait for the
//! expected workers, run, report) or serving the web UI.

use std::process::ExitCode;

use stampede_master::capacity::run_capacity;
use stampede_master::cluster::headless::{HeadlessConfig, run_headless};
use stampede_master::cluster::{self, MasterConfig};
use stampede_master::state::{Durable, StateDir};
use tracing::{info, warn};

use super::web::{self, Mode, WebUi};
use crate::args::MasterArgs;
use crate::config::{self, headless_plan, load_scenario};
use crate::exit::{Failure, cannot_run, io, usage};
use crate::listen;
use crate::output::{Outputs, watch};
use crate::process::{process_tasks, shut_down};

fn read_file(flag: &str, path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| usage(io(&format!("{flag} {}", path.display()), &e)))
}

/// Runs the master until its run ends (headless) or until stopped (web UI).
///
/// # Errors
///
/// Usage errors (exit 2) or a run that cannot run (exit 3).
pub async fn master(mut args: MasterArgs) -> Result<ExitCode, Failure> {
    if args.capacity.capacity && args.state_dir.is_some() {
        return Err(usage(
            "--state-dir does not apply to a capacity search: each step is a run of its own",
        ));
    }
    let step_users = config::step_users(&mut args.load, &args.capacity);
    let template = config::template(load_scenario(&args.load.file)?, &args.load, &args.output)?;
    let outputs = Outputs::check(&args.output)?;
    let mode = if let Some(cap) = config::capacity_plan(&template, &args.capacity, step_users)? {
        Mode::Capacity(Box::new(cap))
    } else if args.headless {
        let plan = headless_plan(&template)?;
        let durable = match &args.state_dir {
            Some(dir) => {
                let (dir, resumed) =
                    StateDir::open(dir, &plan, args.fresh).map_err(|e| usage(e.to_string()))?;
                Some(Box::new(Durable { dir, resumed }))
            }
            None => None,
        };
        Mode::Headless(Box::new(plan), durable)
    } else {
        let auth = web::auth(&args.web)?;
        Mode::Web(auth, listen::web(&args.web, "0.0.0.0").await?)
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some((read_file("--tls-cert", c)?, read_file("--tls-key", k)?)),
        _ => None,
    };
    let metrics = listen::metrics(&args.output).await?;
    let listener = listen::bind(&format!("cannot listen on {}", args.bind), &args.bind).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| cannot_run(e.to_string()))?;
    if args.token.is_empty() && !addr.ip().is_loopback() {
        warn!(%addr, "no --token: any worker that reaches this address can join");
    }
    info!(%addr, tls = tls.is_some(), "master listening for workers");
    let (tasks, stop) = process_tasks();
    let result = async {
        if let Some(addr) = &args.health_listen {
            listen::health(addr, || true, &tasks).await?;
        }
        let config = MasterConfig {
            token: args.token.clone(),
            tls,
            ..MasterConfig::default()
        };
        let master = cluster::start(listener, config, &tasks)?;
        if let Some(l) = metrics {
            stampede_master::metrics::serve(l, master.clone(), &tasks);
        }
        // How a headless run (or each step of a search) waits and shows.
        let headless = |durable| HeadlessConfig {
            expect_workers: args.expect_workers,
            expect_workers_max_wait: args.expect_workers_max_wait,
            watch: watch(&args.output),
            durable,
        };
        match mode {
            Mode::Headless(plan, durable) => {
                let dir = durable.as_ref().map(|d| d.dir.clone());
                let cfg = headless(durable.map(|d| *d));
                let report = run_headless(&master, *plan, cfg, stop).await?;
                let code = outputs.finish(&report);
                // Reported: the state dir's run is over.
                if let Some(dir) = dir
                    && let Err(e) = dir.mark_finished(report.id, report.started)
                {
                    warn!(dir = %dir.path().display(), error = %e, "cannot mark the state dir's run finished");
                }
                code
            }
            Mode::Capacity(cap) => {
                let report = run_capacity(&master, &cap, headless(None), stop).await?;
                outputs.finish_capacity(&report)
            }
            Mode::Web(auth, listener) => {
                let ui = WebUi {
                    master,
                    template,
                    auth,
                    listener,
                    web: &args.web,
                    expect_workers: args.expect_workers,
                    expect_wait: args.expect_workers_max_wait,
                    outputs: &outputs,
                };
                web::serve(ui, &tasks, stop).await
            }
        }
    }
    .await;
    shut_down(&tasks, result).await
}
