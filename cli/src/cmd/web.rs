//! The web UI session of `run` and `master` without `--headless`: serve the
//! UI until Ctrl-C (or `--autoquit`), stop the run if one is going, and end
//! like a headless run with the last run's summary, report files and exit
//! code (0 when no run was made).

use std::process::ExitCode;
use std::time::Duration;

use stampede_master::MasterError;
use stampede_master::capacity::CapacityPlan;
use stampede_master::cluster::MasterHandle;
use stampede_master::run::{RunPlan, RunTemplate};
use stampede_master::state::Durable;
use stampede_master::tasks::Tasks;
use stampede_master::web::{self as ui, Auth, AuthError, WebApp, WebError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::args::WebArgs;
use crate::exit::{Failure, cannot_run, usage};
use crate::output::Outputs;

/// `--web-login` and `--web-token`, checked before anything listens.
///
/// # Errors
///
/// A login that is not USER:PASSWORD, or an empty token.
pub fn auth(web: &WebArgs) -> Result<Auth, Failure> {
    Auth::new(web.web_login.as_deref(), web.web_token.as_deref()).map_err(|e| match e {
        AuthError::BadLogin => usage(format!("--web-login: {e}")),
        AuthError::EmptyToken => usage(format!("--web-token: {e}")),
    })
}

/// How `run` and `master` go: headless with its plan, or the web UI with
/// its guard and listener.
#[derive(Debug)]
pub enum Mode {
    /// The plan, and the state dir it keeps (`master --state-dir`).
    Headless(Box<RunPlan>, Option<Box<Durable>>),
    /// A capacity search: headless runs, one per step.
    Capacity(Box<CapacityPlan>),
    Web(Auth, TcpListener),
}

/// A master serving the web UI.
#[derive(Debug)]
pub struct WebUi<'a> {
    pub master: MasterHandle,
    pub template: RunTemplate,
    pub auth: Auth,
    pub listener: TcpListener,
    pub web: &'a WebArgs,
    /// With --autostart: wait for this many workers (for up to `expect_wait`).
    pub expect_workers: usize,
    pub expect_wait: Option<Duration>,
    pub outputs: &'a Outputs,
}

/// Serves the UI on `tasks` until `stop` (or `--autoquit`).
///
/// # Errors
///
/// An autostart that cannot start, or a report that cannot be written.
pub async fn serve(
    ui: WebUi<'_>,
    tasks: &Tasks,
    stop: CancellationToken,
) -> Result<ExitCode, Failure> {
    let addr = ui
        .listener
        .local_addr()
        .map_err(|e| cannot_run(e.to_string()))?;
    let app = WebApp::new(ui.master, ui.template);
    let server_stop = tasks.child_token();
    ui::serve(
        ui.listener,
        app.clone(),
        ui.auth.clone(),
        tasks,
        server_stop.clone(),
    );
    // Tests and scripts wait for this line.
    eprintln!("web ui on http://{addr}");
    if !ui.auth.is_enabled() && !addr.ip().is_loopback() {
        warn!(%addr, "the web ui has no --web-login or --web-token: anyone who reaches it can start load");
    }
    let session = session(&app, ui.web, (ui.expect_workers, ui.expect_wait), &stop).await;
    let report = app.shutdown().await;
    server_stop.cancel();
    session?;
    match report {
        Some(r) => ui.outputs.finish(&r),
        None => Ok(ExitCode::SUCCESS),
    }
}

async fn session(
    app: &WebApp,
    args: &WebArgs,
    (expect, max_wait): (usize, Option<Duration>),
    stop: &CancellationToken,
) -> Result<(), Failure> {
    let mut finished = app.finished_runs();
    if args.autostart {
        let want = expect.max(1);
        info!(workers = want, "--autostart: waiting for workers");
        match app.master().wait_for_workers(want, max_wait, stop).await {
            Err(MasterError::Interrupted) => return Ok(()),
            waited => waited?,
        }
        app.start(app.defaults()).await.map_err(|e| match e {
            WebError::BadRequest(m) => usage(m),
            e => cannot_run(e.to_string()),
        })?;
    }
    tokio::select! {
        _ = stop.cancelled() => {}
        changed = finished.changed(), if args.autoquit.is_some() => {
            if changed.is_ok() {
                let secs = args.autoquit.unwrap_or(0);
                info!(seconds = secs, "the run ended: quitting (--autoquit)");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
                    _ = stop.cancelled() => {}
                }
            }
        }
    }
    Ok(())
}
