//! The run's configuration, validated once: the scenario loaded and compiled,
//! then the flags checked against it and against each other into the
//! master's [`RunTemplate`] (target, TLS, timeouts, users, classes, run
//! time, load shape, thresholds). Everything after this takes typed values.

use std::time::Duration;

use stampede_common::duration::format_duration;
use stampede_common::run::{
    HttpSettings, HttpVersion, NetworkSettings, ProxySettings, TagFilter, TlsSettings,
};
use stampede_common::scenario::{Scenario, ScenarioSource};
use stampede_common::shape::{ArrivalRate, ArrivalShape, Rate};
use stampede_common::thresholds::Threshold;
use stampede_master::capacity::{CapacityPlan, SearchConfig};
use stampede_master::run::{LoadModel, MAX_USERS, RunPlan, RunTemplate};

use crate::args::{CapacityArgs, LoadArgs, OutputArgs, ProxyArgs};
use crate::exit::{Failure, io, usage};

/// A scenario file read and compiled.
#[derive(Debug)]
pub struct Loaded {
    /// What is shipped to workers.
    pub source: ScenarioSource,
    /// The compiled scenario.
    pub scenario: Scenario,
}

/// Reads and compiles the scenario `file` (`-`: stdin).
///
/// # Errors
///
/// A file that cannot be read, or a scenario error with file:line:col.
pub fn load_scenario(file: &str) -> Result<Loaded, Failure> {
    if file.ends_with(".py") {
        let yaml = crate::cmd::import_on_the_fly(file)?;
        let source = ScenarioSource::from_text(format!("{file} (imported)"), yaml);
        let scenario = source.compile().map_err(|e| usage(e.render()))?;
        return Ok(Loaded { source, scenario });
    }
    let source = ScenarioSource::read(file).map_err(|e| usage(e.render()))?;
    let scenario = source.compile().map_err(|e| usage(e.render()))?;
    Ok(Loaded { source, scenario })
}

/// The scenario's thresholds and the `--threshold` flags.
pub fn thresholds(scenario: &Scenario, out: &OutputArgs) -> Vec<Threshold> {
    let mut all = scenario.thresholds.clone();
    all.extend(out.thresholds.iter().cloned());
    all
}

/// The template of every run of this process, from the flags and the scenario.
///
/// # Errors
///
/// An unreadable `--ca-cert`, an unknown `--class`, or load-shape flags that
/// do not fit together.
pub fn template(loaded: Loaded, load: &LoadArgs, out: &OutputArgs) -> Result<RunTemplate, Failure> {
    let ca_cert_pem = match &load.ca_cert {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| usage(io(&format!("--ca-cert {}", path.display()), &e)))?,
        ),
        None => None,
    };
    let Loaded {
        source,
        mut scenario,
    } = loaded;
    let tags = TagFilter {
        include: load.tags.clone(),
        exclude: load.exclude_tags.clone(),
    };
    scenario.select_tags(&tags).map_err(usage)?;
    stampede_master::plan::select_classes(&scenario, &load.classes)
        .map_err(|e| usage(e.to_string()))?;
    let load_model = load_model(&scenario, load)?;
    Ok(RunTemplate {
        target: load.host.clone().or_else(|| scenario.host.clone()),
        tls: TlsSettings {
            insecure: load.insecure,
            ca_cert_pem,
        },
        request_timeout: load.request_timeout,
        stop_timeout: load.stop_timeout,
        tags,
        network: NetworkSettings {
            resolve: load.resolve.clone(),
            source_ips: load.source_ips.clone().map(|s| s.0).unwrap_or_default(),
        },
        http: HttpSettings {
            version: match (
                load.http.http_version,
                load.http.http2 || load.http.http2_connections.is_some(),
            ) {
                (Some(v), _) => v,
                (None, true) => HttpVersion::Http2,
                (None, false) => HttpVersion::Auto,
            },
            h2_connections: load.http.http2_connections,
            tls_resumption: !load.http.no_tls_resumption,
            max_body: load
                .http
                .max_body_size
                .unwrap_or(stampede_common::run::DEFAULT_MAX_BODY),
            proxy: proxies(&load.http.proxy, scenario.proxy.clone())?.unwrap_or_default(),
        },
        users: load.users,
        spawn_rate: load.spawn_rate,
        classes: load.classes.clone(),
        run_time: load.run_time,
        load: load_model,
        thresholds: thresholds(&scenario, out),
        scenario: std::sync::Arc::new(scenario),
        source,
    })
}

/// The proxies of a run or a worker: `--proxy`, else the scenario's
/// `proxy:` (`scenario`), else the environment's; `--no-proxy` else
/// `NO_PROXY`. `None` when none of them sets a proxy.
///
/// # Errors
///
/// A proxy variable of the environment that is not a usable URL.
pub fn proxies(
    args: &ProxyArgs,
    scenario: Option<stampede_common::run::ProxyUrl>,
) -> Result<Option<ProxySettings>, Failure> {
    let env = |name: &str| std::env::var(name).ok();
    // A proxy given here makes the environment's proxies irrelevant, even
    // unusable ones; its NO_PROXY still applies (as with curl's -x).
    let mut settings = match args.proxy.clone().or(scenario) {
        Some(url) => ProxySettings {
            no_proxy: stampede_common::run::NoProxy::from_env(&env).map_err(usage)?,
            ..ProxySettings::all(url)
        },
        None => ProxySettings::from_env(env).map_err(usage)?,
    };
    if let Some(n) = &args.no_proxy {
        settings.no_proxy = n.clone();
    }
    Ok(settings.is_set().then_some(settings))
}

/// The plan of a headless run: the template's defaults, which must name a target.
///
/// # Errors
///
/// No or a bad target, or users out of range.
pub fn headless_plan(template: &RunTemplate) -> Result<RunPlan, Failure> {
    template.plan(&template.defaults()).map_err(|e| usage(e.0))
}

/// The load shape: `--stages`, the open model's flags, or the scenario's
/// `stages:`, `shape:` or `arrival_rate:` (unless the command line asks for the other
/// model); `--max-users` also overrides the scenario's.
fn load_model(scenario: &Scenario, load: &LoadArgs) -> Result<LoadModel, Failure> {
    if let Some(st) = &load.stages {
        if load.max_users.is_some() {
            return Err(max_users_alone());
        }
        return Ok(LoadModel::Stages(st.clone()));
    }
    let asked: Option<ArrivalShape> = match (&load.arrival_rate, &load.arrival_stages) {
        (Some(rate), _) => Some(constant(*rate, load.run_time)?),
        (None, Some(shape)) => Some(shape.clone()),
        (None, None) => None,
    };
    if load.max_users == Some(0) {
        return Err(usage("--max-users must be at least 1"));
    }
    match (asked, &scenario.arrival) {
        (Some(shape), _) => {
            if shape.peak() == Rate::default() {
                return Err(usage(
                    "the arrival rate never starts an iteration (every rate is 0)",
                ));
            }
            let from_file = scenario.arrival.as_ref().map(|a| a.max_users);
            let max_users = load.max_users.or(from_file).ok_or_else(|| {
                usage("the open model needs --max-users: the most virtual users it may start")
            })?;
            Ok(LoadModel::Arrival(ArrivalRate { shape, max_users }))
        }
        (None, Some(a)) => Ok(LoadModel::Arrival(ArrivalRate {
            shape: a.shape.clone(),
            max_users: load.max_users.unwrap_or(a.max_users),
        })),
        (None, None) if load.max_users.is_some() => Err(max_users_alone()),
        (None, None) => Ok(match (&scenario.stages, &scenario.shape) {
            (Some(st), _) => LoadModel::Stages(st.clone()),
            (None, Some(f)) => LoadModel::Code(f.clone()),
            (None, None) => LoadModel::Users,
        }),
    }
}

/// A capacity search's `--max-users`, taken out of `load`: it is its
/// steps', and the template (with no open model to give it to) must not see
/// it.
pub fn step_users(load: &mut LoadArgs, capacity: &CapacityArgs) -> Option<u64> {
    capacity.capacity.then(|| load.max_users.take()).flatten()
}

/// A capacity search's plan, when `--capacity` asks for one: the template's
/// run with its thresholds, the search's rates, and the users of a step
/// (`max_users`: `--max-users`, else the scenario's `arrival_rate:`, else
/// ten seconds of the highest rate). `-t` bounds the whole search.
///
/// # Errors
///
/// No threshold to fail, rates that do not fit together, a precision out of
/// range, or a run time shorter than one step.
pub fn capacity_plan(
    template: &RunTemplate,
    args: &CapacityArgs,
    max_users: Option<u64>,
) -> Result<Option<CapacityPlan>, Failure> {
    let Some(max) = args.max_rate.filter(|_| args.capacity) else {
        return Ok(None);
    };
    if template.thresholds.is_empty() {
        return Err(usage(
            "a capacity search needs a threshold to fail: add --threshold, e.g. 'p95<500ms', or `thresholds:` to the scenario",
        ));
    }
    if max == Rate::default() {
        return Err(usage("--max-rate must be above 0"));
    }
    let start = args
        .start_rate
        .unwrap_or(Rate::from_milli((max.milli() / 16).max(1)));
    if start == Rate::default() || start > max {
        return Err(usage(format!(
            "--start-rate {start}: expected above 0 and at most --max-rate {max}"
        )));
    }
    if args.rate_increment == Some(Rate::default()) {
        return Err(usage("--rate-increment must be above 0"));
    }
    if !(args.precision > 0.0 && args.precision < 100.0) {
        return Err(usage(format!(
            "--precision {}: expected a percentage above 0 and below 100",
            args.precision
        )));
    }
    if let Some(t) = template.run_time.filter(|t| *t < args.step_time) {
        return Err(usage(format!(
            "--run-time {} is shorter than one step (--step-time {})",
            format_duration(t),
            format_duration(args.step_time)
        )));
    }
    let from_file = match &template.load {
        LoadModel::Arrival(a) => Some(a.max_users),
        _ => None,
    };
    let max_users = match max_users.or(from_file) {
        Some(0) => return Err(usage("--max-users must be at least 1")),
        Some(n) => n,
        None => ((max.per_second() * 10.0).ceil() as u64).clamp(10, MAX_USERS),
    };
    let base = headless_plan(template)?;
    Ok(Some(CapacityPlan {
        base,
        search: SearchConfig {
            start,
            max,
            increment: args.rate_increment,
            precision: args.precision / 100.0,
        },
        step_time: args.step_time,
        max_users,
        run_time: template.run_time,
        min_capacity: args.min_capacity,
    }))
}

fn constant(rate: Rate, run_time: Option<Duration>) -> Result<ArrivalShape, Failure> {
    let run_time = run_time
        .ok_or_else(|| usage("--arrival-rate needs --run-time (how long to keep the rate)"))?;
    ArrivalShape::constant(rate, run_time).map_err(|e| usage(format!("--run-time: {e}")))
}

fn max_users_alone() -> Failure {
    usage("--max-users applies to the open model: add --arrival-rate or --arrival-stages")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    const YAML: &str = "host: http://127.0.0.1:1\nusers:\n  - name: A\n    sequence: [{get: /}]\n  - name: B\n    sequence: [{get: /b}]\n";

    fn template_of(args: &[&str]) -> Result<RunTemplate, String> {
        let cli = Cli::try_parse_from(
            ["stampede", "run", "--headless", "-f", "s.yaml"]
                .iter()
                .chain(args),
        )
        .map_err(|e| e.to_string())?;
        let Command::Run(run) = cli.command else {
            unreachable!()
        };
        let source = ScenarioSource::from_text("s.yaml", YAML);
        let loaded = Loaded {
            scenario: source.compile().unwrap(),
            source,
        };
        template(loaded, &run.load, &run.output).map_err(|f| f.message)
    }

    #[test]
    fn the_closed_model_by_default() {
        let t = template_of(&["-u", "7", "-r", "3", "-t", "1m"]).unwrap();
        assert_eq!((t.users, t.spawn_rate), (7, 3.0));
        assert_eq!(t.run_time, Some(Duration::from_secs(60)));
        assert_eq!(t.load, LoadModel::Users);
        assert_eq!(t.target.unwrap().to_string(), "http://127.0.0.1:1");
    }

    #[test]
    fn shapes_from_the_flags() {
        let t = template_of(&["--stages", "10s:5,10s:0"]).unwrap();
        assert!(matches!(t.load, LoadModel::Stages(_)));
        let t = template_of(&["--arrival-rate", "5/s", "-t", "2s", "--max-users", "3"]).unwrap();
        let LoadModel::Arrival(a) = t.load else {
            panic!("the open model")
        };
        assert_eq!(a.max_users, 3);
        assert_eq!(a.shape.total(), Duration::from_secs(2));
        let t = template_of(&["--arrival-stages", "1s:2/s", "--max-users", "1"]).unwrap();
        assert!(matches!(t.load, LoadModel::Arrival(_)));
    }

    #[test]
    fn flags_that_do_not_fit_together() {
        for (args, want) in [
            (
                &["--arrival-rate", "5/s", "--max-users", "2"][..],
                "--arrival-rate needs --run-time",
            ),
            (
                &["--arrival-rate", "5/s", "-t", "1s"],
                "the open model needs --max-users",
            ),
            (
                &["--max-users", "5"],
                "--max-users applies to the open model",
            ),
            (
                &["--stages", "1s:1", "--max-users", "5"],
                "--max-users applies to the open model",
            ),
            (
                &["--arrival-rate", "5/s", "-t", "1s", "--max-users", "0"],
                "--max-users must be at least 1",
            ),
            (
                &["--arrival-stages", "1s:0/s", "--max-users", "1"],
                "the arrival rate never starts",
            ),
            (&["--class", "C"], "unknown user class `C`"),
            (
                &["--arrival-rate", "5/s", "--stages", "1s:1"],
                "cannot be used with",
            ),
            (&["--arrival-rate", "fast"], "invalid rate `fast`"),
            (&["--stages", "soon"], "invalid stages"),
            (&["--threshold", "p95<<1"], "--threshold"),
            (&["--host", "localhost:1"], "invalid host `localhost:1`"),
            (&["--request-timeout", "0s"], "must be above zero"),
        ] {
            let e = template_of(args).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn a_headless_plan_needs_a_target() {
        let cli = Cli::try_parse_from(["stampede", "run", "-f", "-"]).unwrap();
        let Command::Run(run) = cli.command else {
            unreachable!()
        };
        let source =
            ScenarioSource::from_text("-", "users:\n  - name: A\n    sequence: [{get: /}]\n");
        let loaded = Loaded {
            scenario: source.compile().unwrap(),
            source,
        };
        let t = template(loaded, &run.load, &run.output).unwrap();
        assert_eq!(
            headless_plan(&t).unwrap_err().message,
            "no target host: pass --host or set `host:` in the scenario"
        );
    }
}
