//! The cluster subcommands, `master` and `worker`, and what they share with
//! `run`: the run plan, and the web UI session (without `--headless`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stampede_common::scenario::{Scenario, ScenarioSource};
use stampede_master::MasterError;
use stampede_master::cluster::headless::{HeadlessConfig, run_headless};
use stampede_master::cluster::{self, MasterConfig, MasterHandle, RunPlan};
use stampede_master::web::{self, Auth, AuthError, RunTemplate, WebApp, WebError};
use stampede_proto::v1::RunSettings;
use stampede_worker::EngineConfig;
use stampede_worker::agent::{AgentConfig, AgentError, AgentStatus, run_agent};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cli::{LoadArgs, MasterArgs, OutputArgs, WebArgs, WorkerArgs};
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
    let plan = plan_template(source, scenario, load, engine)?;
    if plan.settings.host.is_empty() {
        return Err(usage(
            "no target host: pass --host or set `host:` in the scenario",
        ));
    }
    Ok(plan)
}

/// The plan without requiring a host (empty): the web UI's form may give it.
pub(crate) fn plan_template(
    source: ScenarioSource,
    scenario: Scenario,
    load: &LoadArgs,
    engine: &EngineConfig,
) -> Result<RunPlan, Failure> {
    let host = engine
        .host
        .clone()
        .or_else(|| scenario.host.clone())
        .unwrap_or_default();
    match url::Url::parse(&host) {
        _ if host.is_empty() => {}
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(usage(format!(
                "invalid host `{host}`: expected a url like http://127.0.0.1:8000"
            )));
        }
    }
    stampede_master::plan::select_classes(&scenario, &load.classes)
        .map_err(|e| usage(e.to_string()))?;
    let arrival = crate::load::arrival(&scenario, load)?;
    Ok(RunPlan {
        arrival,
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
    let stages = crate::load::stages(&scenario, &args.load)?;
    let web_auth = (!args.headless).then(|| web_auth(&args.web)).transpose()?;
    let plan = if args.headless {
        plan(source, scenario, &args.load, &engine)?
    } else {
        plan_template(source, scenario, &args.load, &engine)?
    };
    let metrics = metrics_listener(&args.output).await?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some((read_file("--tls-cert", c)?, read_file("--tls-key", k)?)),
        _ => None,
    };
    let web = match web_auth {
        Some(auth) => Some((auth, bind_web(&args.web, "0.0.0.0").await?)),
        None => None,
    };
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
    let code = match web {
        Some((auth, listener)) => {
            let run = WebRun {
                master: &m.handle,
                template: RunTemplate {
                    plan,
                    run_time: args.load.run_time,
                    thresholds,
                    stages: stages.clone(),
                },
                auth,
                listener,
                web: &args.web,
                expect_workers: args.expect_workers,
                expect_wait: args.expect_workers_max_wait,
                output: &args.output,
            };
            web_ui(run, shutdown).await
        }
        None => {
            let cfg = HeadlessConfig {
                expect_workers: args.expect_workers,
                expect_workers_max_wait: args.expect_workers_max_wait,
                run_time: args.load.run_time,
                print_interval: print_interval(&args.output),
                thresholds,
                stages,
            };
            headless(&m.handle, plan, cfg, &args.output, shutdown).await
        }
    };
    server_stop.cancel();
    code
}

/// `--web-login` and `--web-token`, checked before anything listens.
pub(crate) fn web_auth(web: &WebArgs) -> Result<Auth, Failure> {
    Auth::new(web.web_login.as_deref(), web.web_token.as_deref()).map_err(|e| match e {
        AuthError::BadLogin => usage(format!("--web-login: {e}")),
        AuthError::EmptyToken => usage(format!("--web-token: {e}")),
    })
}

/// Binds `--web-host` (or `default_host`) and `--web-port`.
pub(crate) async fn bind_web(web: &WebArgs, default_host: &str) -> Result<TcpListener, Failure> {
    let host = match web.web_host.as_deref().map(str::trim) {
        None => default_host,
        // Locust's `--web-host ""`: every interface.
        Some("") => "0.0.0.0",
        Some(h) => h.trim_matches(['[', ']']),
    };
    TcpListener::bind((host, web.web_port)).await.map_err(|e| {
        cannot_run(format!(
            "cannot listen on {host}:{}: {}",
            web.web_port,
            e.to_string().to_lowercase()
        ))
    })
}

/// A master serving the web UI (`run` and `master` without `--headless`).
pub(crate) struct WebRun<'a> {
    pub(crate) master: &'a MasterHandle,
    pub(crate) template: RunTemplate,
    pub(crate) auth: Auth,
    pub(crate) listener: TcpListener,
    pub(crate) web: &'a WebArgs,
    /// With --autostart: wait for this many workers (for up to `expect_wait`).
    pub(crate) expect_workers: usize,
    pub(crate) expect_wait: Option<Duration>,
    pub(crate) output: &'a OutputArgs,
}

/// Serves the UI until Ctrl-C (or --autoquit); then stops the run if one is
/// going and ends like a headless run with the last run's summary, report
/// files and exit code (0 when no run was made).
pub(crate) async fn web_ui(
    run: WebRun<'_>,
    shutdown: CancellationToken,
) -> Result<ExitCode, Failure> {
    let WebRun {
        master,
        template,
        auth,
        listener,
        web: args,
        expect_workers,
        expect_wait,
        output,
    } = run;
    let addr = listener
        .local_addr()
        .map_err(|e| cannot_run(e.to_string()))?;
    let stop = CancellationToken::new();
    let app = WebApp::new(master.clone(), template, stop.clone());
    let server = web::serve(listener, app.clone(), auth.clone(), stop.clone());
    // Tests and scripts wait for this line.
    eprintln!("web ui on http://{addr}");
    if !auth.is_enabled() && !addr.ip().is_loopback() {
        warn!(%addr, "the web ui has no --web-login or --web-token: anyone who reaches it can start load");
    }
    let session = web_session(&app, args, (expect_workers, expect_wait), shutdown).await;
    let report = app.shutdown().await;
    stop.cancel();
    let _ = server.await;
    session?;
    match report {
        Some(r) => finish(&r, output),
        None => Ok(ExitCode::SUCCESS),
    }
}

async fn web_session(
    app: &WebApp,
    args: &WebArgs,
    (expect, max_wait): (usize, Option<Duration>),
    shutdown: CancellationToken,
) -> Result<(), Failure> {
    let mut finished = app.finished_runs();
    if args.autostart {
        let want = expect.max(1);
        let master = app.master();
        info!(workers = want, "--autostart: waiting for workers");
        let wait = master.wait_for_workers(want);
        let waited = tokio::select! {
            r = async {
                match max_wait {
                    Some(max) => tokio::time::timeout(max, wait).await.map_err(|_| {
                        MasterError::NoWorkers { want, got: master.connected(), waited: max }
                    })?,
                    None => wait.await,
                }
            } => r,
            _ = shutdown.cancelled() => return Ok(()),
        };
        waited?;
        app.start(app.defaults()).await.map_err(|e| match e {
            WebError::BadRequest(m) => usage(m),
            e => cannot_run(e.to_string()),
        })?;
    }
    tokio::select! {
        _ = shutdown.cancelled() => {}
        changed = finished.changed(), if args.autoquit.is_some() => {
            if changed.is_ok() {
                let secs = args.autoquit.unwrap_or(0);
                info!(seconds = secs, "the run ended: quitting (--autoquit)");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
    }
    Ok(())
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
