//! The subcommands: load and validate the scenario, build the typed run
//! configuration once, run, print, and choose the exit code.

use std::process::ExitCode;
use std::time::Duration;

use stampede_common::scenario::{Scenario, ScenarioSource, Tasks};
use stampede_common::thresholds::Threshold;
use stampede_master::MasterError;
use stampede_master::report::{self, RunReport, render_summary};
use stampede_master::standalone::{StandaloneConfig, run_standalone};
use stampede_shop::{LatencyRange, Shop, ShopConfig};
use stampede_worker::http::ClientOptions;
use stampede_worker::{EngineConfig, WorkerError};
use tokio_util::sync::CancellationToken;

use crate::cli::{CheckArgs, Command, DemoArgs, LoadArgs, OutputArgs, RunArgs, ShopArgs};
use crate::signal;

/// The embedded seed scenario `stampede demo` runs.
const SHOP_YAML: &str = include_str!("../../scenarios/shop.yaml");

/// Exit code 2: usage or scenario errors.
pub const EXIT_USAGE: u8 = 2;
/// Exit code 3: the run could not run.
pub const EXIT_CANNOT_RUN: u8 = 3;
/// Exit code 1: a threshold failed.
pub const EXIT_THRESHOLD: u8 = 1;

/// A command that failed, with its exit code and a one-line message.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_USAGE,
        message: message.into(),
    }
}

impl From<MasterError> for Failure {
    fn from(e: MasterError) -> Self {
        let code = match &e {
            MasterError::Plan(_)
            | MasterError::Worker(WorkerError::NoHost | WorkerError::InvalidHost(_)) => EXIT_USAGE,
            _ => EXIT_CANNOT_RUN,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

pub async fn dispatch(cmd: Command) -> Result<ExitCode, Failure> {
    match cmd {
        Command::Run(args) => run(args).await,
        Command::Check(args) => check(args),
        Command::Demo(args) => demo(args).await,
        Command::Shop(args) => shop(args).await,
        Command::Master(args) => crate::cluster_cmd::master(args).await,
        Command::Worker(args) => crate::cluster_cmd::worker(args).await,
    }
}

pub(crate) fn load_scenario(file: &str) -> Result<(ScenarioSource, Scenario), Failure> {
    let src = ScenarioSource::read(file).map_err(|e| usage(e.render()))?;
    let scenario = src.compile().map_err(|e| usage(e.render()))?;
    Ok((src, scenario))
}

fn check(args: CheckArgs) -> Result<ExitCode, Failure> {
    let (_, s) = load_scenario(&args.file)?;
    println!(
        "{}: ok, {} user class(es), {} request name(s)",
        args.file,
        s.classes.len(),
        s.stat_keys.len()
    );
    for c in &s.classes {
        let share = match c.fixed_count {
            Some(n) => format!("fixed_count {n}"),
            None => format!("weight {}", c.weight),
        };
        let tasks = match &c.tasks {
            Tasks::Sequence(steps) => format!("sequence of {} steps", steps.len()),
            Tasks::Weighted { tasks, .. } => format!("{} weighted tasks", tasks.len()),
        };
        println!(
            "  {} ({share}): {} on_start step(s), {tasks}",
            c.name,
            c.on_start.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn engine_config(load: &LoadArgs) -> Result<EngineConfig, Failure> {
    let ca_cert_pem = match &load.ca_cert {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            usage(format!(
                "--ca-cert {}: {}",
                path.display(),
                e.to_string().to_lowercase()
            ))
        })?),
        None => None,
    };
    if load.request_timeout.is_zero() {
        return Err(usage("--request-timeout must be above zero"));
    }
    Ok(EngineConfig {
        host: load.host.clone(),
        http: ClientOptions {
            insecure: load.insecure,
            ca_cert_pem,
            ..ClientOptions::default()
        },
        default_timeout: load.request_timeout,
        stop_timeout: load.stop_timeout,
    })
}

pub(crate) fn print_interval(out: &OutputArgs) -> Option<Duration> {
    (!out.only_summary && !out.print_stats_interval.is_zero()).then_some(out.print_stats_interval)
}

/// Parses the `--threshold` flags and adds them to the scenario's.
pub(crate) fn thresholds(scenario: &Scenario, out: &OutputArgs) -> Result<Vec<Threshold>, Failure> {
    let mut all = scenario.thresholds.clone();
    for t in &out.thresholds {
        all.push(
            t.parse()
                .map_err(|e: stampede_common::thresholds::ThresholdError| {
                    usage(format!("--threshold: {e}"))
                })?,
        );
    }
    Ok(all)
}

/// Binds `--metrics-listen`, before any load is sent.
pub(crate) async fn metrics_listener(
    out: &OutputArgs,
) -> Result<Option<tokio::net::TcpListener>, Failure> {
    let Some(addr) = &out.metrics_listen else {
        return Ok(None);
    };
    let l = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure {
            code: EXIT_CANNOT_RUN,
            message: format!("--metrics-listen {addr}: {}", e.to_string().to_lowercase()),
        })?;
    if let Ok(a) = l.local_addr() {
        tracing::info!(addr = %a, "prometheus metrics at /metrics");
    }
    Ok(Some(l))
}

/// Prints the summary, writes the report files, and picks the exit code:
/// 1 when a threshold failed (or, with `--exit-code-on-error`, any request did).
pub(crate) fn finish(report: &RunReport, out: &OutputArgs) -> Result<ExitCode, Failure> {
    let summary = render_summary(report);
    if out.json.as_deref() == Some("-") {
        eprintln!("{summary}");
    } else {
        println!("{summary}");
    }
    let write_err = |what: &str, e: std::io::Error| Failure {
        code: EXIT_CANNOT_RUN,
        message: format!("cannot write {what}: {}", e.to_string().to_lowercase()),
    };
    if let Some(prefix) = &out.csv {
        report::csv::write_all(prefix, report, out.csv_full_history)
            .map_err(|e| write_err(&format!("{prefix}_*.csv"), e))?;
    }
    if out.json.is_some() || out.html.is_some() {
        let json = report::json::JsonReport::new(report);
        match out.json.as_deref() {
            Some("-") => println!("{}", json.to_string_pretty()),
            Some(path) => {
                std::fs::write(path, json.to_string_pretty()).map_err(|e| write_err(path, e))?
            }
            None => {}
        }
        if let Some(path) = &out.html {
            std::fs::write(path, report::html::render_html(&json))
                .map_err(|e| write_err(path, e))?;
        }
    }
    if !report.passed() {
        return Ok(ExitCode::from(EXIT_THRESHOLD));
    }
    match out.exit_code_on_error {
        Some(code)
            if report.snapshot.total.failures > 0 || !report.snapshot.exceptions.is_empty() =>
        {
            Ok(ExitCode::from(code))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Before a standalone run: can this machine reach the target at all?
async fn preflight(host: &str) -> Result<(), Failure> {
    let unreachable = |why: String| Failure {
        code: EXIT_CANNOT_RUN,
        message: format!("target unreachable: {host}: {why}"),
    };
    let url = url::Url::parse(host).map_err(|e| usage(format!("invalid host `{host}`: {e}")))?;
    let addr = (
        url.host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned(),
        url.port_or_known_default().unwrap_or(80),
    );
    match tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string().to_lowercase())),
        Err(_) => Err(unreachable("no connection within 5s".into())),
    }
}

async fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let workers = args.workers.unwrap_or(1);
    if workers == 0 {
        return Err(usage("--workers must be at least 1"));
    }
    let (source, scenario) = load_scenario(&args.load.file)?;
    let engine = engine_config(&args.load)?;
    let thresholds = thresholds(&scenario, &args.output)?;
    let stages = crate::load::stages(&scenario, &args.load)?;
    if !args.headless {
        return run_web(
            &args,
            workers,
            (source, scenario),
            &engine,
            thresholds,
            stages,
        )
        .await;
    }
    let plan = crate::cluster_cmd::plan(source, scenario, &args.load, &engine)?;
    preflight(&plan.settings.host).await?;
    let cfg = StandaloneConfig {
        workers,
        run_time: args.load.run_time,
        print_interval: print_interval(&args.output),
        thresholds,
        metrics: metrics_listener(&args.output).await?,
        stages,
    };
    let shutdown = CancellationToken::new();
    signal::spawn_handler(shutdown.clone());
    let report = run_standalone(plan, cfg, shutdown).await?;
    finish(&report, &args.output)
}

/// `run` without `--headless`: in-process workers and the web UI on
/// `--web-host` (127.0.0.1 by default) and `--web-port`.
async fn run_web(
    args: &RunArgs,
    workers: usize,
    (source, scenario): (ScenarioSource, Scenario),
    engine: &EngineConfig,
    thresholds: Vec<Threshold>,
    stages: Option<stampede_common::shape::Stages>,
) -> Result<ExitCode, Failure> {
    use crate::cluster_cmd::{WebRun, bind_web, plan_template, web_auth, web_ui};
    let auth = web_auth(&args.web)?;
    let plan = plan_template(source, scenario, &args.load, engine)?;
    let metrics = metrics_listener(&args.output).await?;
    let listener = bind_web(&args.web, "127.0.0.1").await?;
    let shutdown = CancellationToken::new();
    signal::spawn_handler(shutdown.clone());
    let stop = CancellationToken::new();
    let master = stampede_master::standalone::start_local_cluster(workers, stop.clone()).await?;
    if let Some(l) = metrics {
        stampede_master::metrics::serve(l, master.clone(), stop.clone());
    }
    let run = WebRun {
        master: &master,
        template: stampede_master::web::RunTemplate {
            plan,
            run_time: args.load.run_time,
            thresholds,
            stages,
        },
        auth,
        listener,
        web: &args.web,
        expect_workers: workers,
        expect_wait: Some(Duration::from_secs(30)),
        output: &args.output,
    };
    let code = web_ui(run, shutdown).await;
    stop.cancel();
    code
}

async fn demo(args: DemoArgs) -> Result<ExitCode, Failure> {
    let latency = match args.latency.trim() {
        "0" | "0ms" | "0s" | "" => None,
        text => Some(
            text.parse::<LatencyRange>()
                .map_err(|e| usage(format!("--latency: {e}")))?,
        ),
    };
    let shop_cfg = ShopConfig {
        latency,
        error_rate: args.error_rate,
    };
    shop_cfg.validate().map_err(|e| usage(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure {
            code: EXIT_CANNOT_RUN,
            message: format!("cannot bind the shop target: {e}"),
        })?;
    let addr = listener.local_addr().map_err(|e| Failure {
        code: EXIT_CANNOT_RUN,
        message: e.to_string(),
    })?;
    let shop = Shop::new(shop_cfg);
    let shop_stop = CancellationToken::new();
    let serving = tokio::spawn(
        shop.clone()
            .serve(listener, shop_stop.clone().cancelled_owned()),
    );
    let source = ScenarioSource::from_text("scenarios/shop.yaml", SHOP_YAML);
    let scenario = source.compile().map_err(|e| usage(e.render()))?;
    eprintln!(
        "demo: shop target on http://{addr} (latency {}, error rate {}); running scenarios/shop.yaml with {} users for {}",
        args.latency,
        args.error_rate,
        args.users,
        stampede_common::duration::format_duration(args.run_time)
    );
    let load = LoadArgs {
        file: source.path.clone(),
        host: Some(format!("http://{addr}")),
        users: args.users,
        spawn_rate: args.spawn_rate,
        run_time: Some(args.run_time),
        classes: Vec::new(),
        stop_timeout: Duration::ZERO,
        request_timeout: Duration::from_secs(60),
        ca_cert: None,
        insecure: false,
        stages: None,
        arrival_rate: None,
        arrival_stages: None,
        max_users: None,
    };
    let thresholds = thresholds(&scenario, &args.output)?;
    let plan = crate::cluster_cmd::plan(source, scenario, &load, &engine_config(&load)?)?;
    let cfg = StandaloneConfig {
        workers: 1,
        run_time: load.run_time,
        print_interval: print_interval(&args.output),
        thresholds,
        metrics: metrics_listener(&args.output).await?,
        stages: None,
    };
    let shutdown = CancellationToken::new();
    signal::spawn_handler(shutdown.clone());
    let report = run_standalone(plan, cfg, shutdown).await?;
    let served = shop.stats().served;
    shop_stop.cancel();
    let _ = serving.await;
    let code = finish(&report, &args.output)?;
    let counted = report.snapshot.total.requests;
    if served == counted {
        println!(
            "\nthe shop served {served} requests and stampede counted {counted}: the counts match"
        );
        Ok(code)
    } else {
        Err(Failure {
            code: 1,
            message: format!(
                "count mismatch: the shop served {served} requests but stampede counted {counted}"
            ),
        })
    }
}

async fn shop(args: ShopArgs) -> Result<ExitCode, Failure> {
    let latency = args
        .latency
        .as_deref()
        .map(str::parse::<LatencyRange>)
        .transpose()
        .map_err(|e| usage(format!("--latency: {e}")))?;
    let cfg = ShopConfig {
        latency,
        error_rate: args.error_rate,
    };
    cfg.validate().map_err(|e| usage(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| Failure {
            code: EXIT_CANNOT_RUN,
            message: format!(
                "cannot listen on {}: {}",
                args.listen,
                e.to_string().to_lowercase()
            ),
        })?;
    let addr = listener.local_addr().map_err(|e| Failure {
        code: EXIT_CANNOT_RUN,
        message: e.to_string(),
    })?;
    // Tests and scripts wait for this line on stdout.
    println!("shop listening on http://{addr}");
    let shutdown = CancellationToken::new();
    signal::spawn_handler(shutdown.clone());
    Shop::new(cfg)
        .serve(listener, shutdown.cancelled_owned())
        .await
        .map_err(|e| Failure {
            code: EXIT_CANNOT_RUN,
            message: format!("shop: {e}"),
        })?;
    Ok(ExitCode::SUCCESS)
}
