//! `stampede run`: master and workers in one process; headless, or with the
//! web UI on `--web-host` (127.0.0.1 by default) and `--web-port`.

use std::process::ExitCode;
use std::time::Duration;

use stampede_common::run::RunSettings;
use stampede_master::capacity::run_capacity;
use stampede_master::standalone::{ATTACH_WAIT, run_standalone, start_local_cluster};

use super::web::{self, Mode, WebUi};
use crate::args::RunArgs;
use crate::config::{self, headless_plan, load_scenario};
use crate::exit::{Failure, cannot_run};
use crate::listen;
use crate::output::{Outputs, watch};
use crate::process::{process_tasks, shut_down};

/// Runs the scenario on `--workers` in-process workers.
///
/// # Errors
///
/// Usage errors (exit 2) or a run that cannot run (exit 3).
pub async fn run(mut args: RunArgs) -> Result<ExitCode, Failure> {
    let step_users = config::step_users(&mut args.load, &args.capacity);
    let template = config::template(load_scenario(&args.load.file)?, &args.load, &args.output)?;
    let outputs = Outputs::check(&args.output)?;
    let mode = if let Some(cap) = config::capacity_plan(&template, &args.capacity, step_users)? {
        preflight(&cap.base.settings).await?;
        Mode::Capacity(Box::new(cap))
    } else if args.headless {
        let plan = headless_plan(&template)?;
        preflight(&plan.settings).await?;
        Mode::Headless(Box::new(plan), None)
    } else {
        let auth = web::auth(&args.web)?;
        Mode::Web(auth, listen::web(&args.web, "127.0.0.1").await?)
    };
    let metrics = listen::metrics(&args.output).await?;
    let (tasks, stop) = process_tasks();
    let local = match start_local_cluster(args.workers, &tasks).await {
        Ok(local) => local,
        Err(e) => return shut_down(&tasks, Err(e.into())).await,
    };
    if let Some(l) = metrics {
        stampede_master::metrics::serve(l, local.handle.clone(), &tasks);
    }
    let result = match mode {
        Mode::Headless(plan, _) => {
            match run_standalone(&local, *plan, watch(&args.output), stop).await {
                Ok(report) => outputs.finish(&report),
                Err(e) => Err(e.into()),
            }
        }
        Mode::Capacity(cap) => {
            let report = run_capacity(
                &local.handle,
                &cap,
                local.headless(watch(&args.output)),
                stop,
            )
            .await;
            local.stop_workers().await;
            match report {
                Ok(report) => outputs.finish_capacity(&report),
                Err(e) => Err(e.into()),
            }
        }
        Mode::Web(auth, listener) => {
            let ui = WebUi {
                master: local.handle.clone(),
                template,
                auth,
                listener,
                web: &args.web,
                expect_workers: local.workers,
                expect_wait: Some(ATTACH_WAIT),
                outputs: &outputs,
            };
            let code = web::serve(ui, &tasks, stop).await;
            local.stop_workers().await;
            code
        }
    };
    shut_down(&tasks, result).await
}

/// Before a standalone run: can this machine reach the target at all (at
/// the address `--resolve` gives it, if any), or its proxy?
async fn preflight(settings: &RunSettings) -> Result<(), Failure> {
    let (target, network) = (&settings.target, &settings.network);
    let (host, port) = target.socket_addr();
    let https = target.url().scheme() == "https";
    if let Some(proxy) = settings.http.proxy.for_target(https, &host) {
        let unreachable = |why: String| cannot_run(format!("proxy unreachable: {proxy}: {why}"));
        let connect = tokio::net::TcpStream::connect((proxy.host.as_str(), proxy.port));
        return match tokio::time::timeout(Duration::from_secs(5), connect).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(unreachable(e.to_string().to_lowercase())),
            Err(_) => Err(unreachable("no connection within 5s".into())),
        };
    }
    let unreachable = |why: String| cannot_run(format!("target unreachable: {target}: {why}"));
    let connect = async {
        match network.resolved(&host, port) {
            Some(ip) => tokio::net::TcpStream::connect((ip, port)).await,
            None => tokio::net::TcpStream::connect((host.as_str(), port)).await,
        }
    };
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string().to_lowercase())),
        Err(_) => Err(unreachable("no connection within 5s".into())),
    }
}
