//! What a run is: [`RunPlan`], everything the master needs to drive one run
//! (scenario, target and settings, users or load shape, run time,
//! thresholds), made from a [`RunTemplate`] (the command line's and the
//! scenario's defaults) and a [`StartRequest`] (what the web form or the
//! command line asks for), checked once in [`RunTemplate::plan`]. The
//! [`driver`] decides, tick by tick, what a running plan needs next.

pub mod driver;

use std::sync::Arc;
use std::time::Duration;

use stampede_common::run::{RunSettings, Target, TlsSettings};
use stampede_common::scenario::{Scenario, ScenarioSource};
use stampede_common::shape::{ArrivalRate, Stages};
use stampede_common::thresholds::Threshold;

use crate::plan::select_classes;

/// Most users one start or change may ask for: a typo must not make the master
/// allocate billions of user slots.
pub const MAX_USERS: u64 = 10_000_000;

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The run time elapsed (or the load shape ended).
    RunTime,
    /// Ctrl-C, SIGTERM or a stop request.
    Interrupted,
    /// A threshold with `abort_on_fail` was lost.
    ThresholdAborted,
    /// The load shape's script function failed.
    ShapeFailed,
}

impl StopReason {
    /// The reason as the JSON report writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::RunTime => "run_time",
            StopReason::Interrupted => "interrupted",
            StopReason::ThresholdAborted => "threshold_aborted",
            StopReason::ShapeFailed => "shape_failed",
        }
    }
}

/// How the load of a run is shaped.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadModel {
    /// A user count and spawn rate (the closed model).
    Users,
    /// Target users over time (the closed model); the run ends with it.
    Stages(Stages),
    /// Iterations on a schedule (the open model); the run ends with it.
    Arrival(ArrivalRate),
    /// Target users from a script function of the elapsed time (Locust's
    /// `LoadTestShape`); the run ends when it returns nil.
    Code(String),
}

impl LoadModel {
    /// How long the shape lasts, if it ends by itself.
    pub fn length(&self) -> Option<Duration> {
        match self {
            LoadModel::Users | LoadModel::Code(_) => None,
            LoadModel::Stages(st) => Some(st.total()),
            LoadModel::Arrival(a) => Some(a.shape.total()),
        }
    }

    /// The name reports and the web UI use.
    pub fn as_str(&self) -> &'static str {
        match self {
            LoadModel::Users => "users",
            LoadModel::Stages(_) => "stages",
            LoadModel::Arrival(_) => "arrival_rate",
            LoadModel::Code(_) => "shape",
        }
    }
}

/// One run, as the master drives it.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The scenario as shipped to workers.
    pub source: ScenarioSource,
    /// The same, compiled on the master (class names and weights).
    pub scenario: Arc<Scenario>,
    /// Target users, cluster-wide (the closed model; the open model's
    /// `max_users`; a `stages` shape starts from 0).
    pub users: u64,
    /// Users per second, cluster-wide.
    pub spawn_rate: f64,
    /// Only these classes (all when empty).
    pub classes: Vec<String>,
    /// Target and HTTP settings for the workers.
    pub settings: RunSettings,
    /// How the load is shaped.
    pub load: LoadModel,
    /// Stop after this long (`None`: when stopped, or when the shape ends).
    pub run_time: Option<Duration>,
    /// Pass/fail criteria: judged on the final numbers, and live for those
    /// with `abort_on_fail`.
    pub thresholds: Vec<Threshold>,
}

impl RunPlan {
    /// When the run ends by itself: its run time or the end of its shape,
    /// whichever comes first.
    pub fn length(&self) -> Option<Duration> {
        match (self.load.length(), self.run_time) {
            (Some(end), Some(t)) => Some(t.min(end)),
            (end, t) => end.or(t),
        }
    }

    /// Whether its users follow a shape rather than the users asked for.
    pub fn follows_shape(&self) -> bool {
        !matches!(self.load, LoadModel::Users)
    }
}

/// What a start asks for; each field replaces the template's default.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRequest {
    /// Peak users, cluster-wide.
    pub users: u64,
    /// Users started per second, cluster-wide.
    pub spawn_rate: f64,
    /// Target base URL; `None` keeps the template's.
    pub host: Option<String>,
    /// Stop by itself after this long.
    pub run_time: Option<Duration>,
    /// Only these user classes (all when empty).
    pub classes: Vec<String>,
}

/// A start or change that cannot be made, with one clear lowercase message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRun(pub String);

/// The defaults every run of a master is made from: the scenario, the
/// command line's settings and the scenario's shape and thresholds.
#[derive(Debug, Clone)]
pub struct RunTemplate {
    /// The scenario as shipped to workers.
    pub source: ScenarioSource,
    /// The same, compiled.
    pub scenario: Arc<Scenario>,
    /// The target, if the command line or the scenario names one.
    pub target: Option<Target>,
    /// HTTPS trust of the workers.
    pub tls: TlsSettings,
    /// Timeout of requests whose step sets none.
    pub request_timeout: Duration,
    /// How long users may finish their task on stop.
    pub stop_timeout: Duration,
    /// Which tagged tasks run (`--tags`, `--exclude-tags`).
    pub tags: stampede_common::run::TagFilter,
    /// Host overrides and source addresses.
    pub network: stampede_common::run::NetworkSettings,
    /// HTTP version, shared connections, TLS resumption and proxies.
    pub http: stampede_common::run::HttpSettings,
    /// Default users.
    pub users: u64,
    /// Default spawn rate.
    pub spawn_rate: f64,
    /// Default classes (all when empty).
    pub classes: Vec<String>,
    /// Default run time.
    pub run_time: Option<Duration>,
    /// The shape every run follows.
    pub load: LoadModel,
    /// Judged live and on each finished run.
    pub thresholds: Vec<Threshold>,
}

impl RunTemplate {
    /// The request that takes every default.
    pub fn defaults(&self) -> StartRequest {
        StartRequest {
            users: self.users,
            spawn_rate: self.spawn_rate,
            host: self.target.as_ref().map(Target::to_string),
            run_time: self.run_time,
            classes: self.classes.clone(),
        }
    }

    /// Checks `req` against the scenario and makes the run's plan.
    ///
    /// # Errors
    ///
    /// Users out of range, a spawn rate that is not above 0, a zero run time,
    /// no or an invalid target, or an unknown class.
    pub fn plan(&self, req: &StartRequest) -> Result<RunPlan, InvalidRun> {
        if req.users == 0 || req.users > MAX_USERS {
            return Err(InvalidRun(format!(
                "invalid users `{}`: expected 1 to {MAX_USERS}",
                req.users
            )));
        }
        check_rate(req.spawn_rate)?;
        if req.run_time.is_some_and(|t| t.is_zero()) {
            return Err(InvalidRun("run time must be above 0".into()));
        }
        let target = match &req.host {
            Some(host) => host
                .parse::<Target>()
                .map_err(|e| InvalidRun(e.to_string()))?,
            None => self.target.clone().ok_or_else(|| {
                InvalidRun("no target host: pass --host or set `host:` in the scenario".into())
            })?,
        };
        select_classes(&self.scenario, &req.classes).map_err(|e| InvalidRun(e.to_string()))?;
        let users = match &self.load {
            LoadModel::Users => req.users,
            LoadModel::Stages(_) | LoadModel::Code(_) => 0,
            LoadModel::Arrival(a) => a.max_users,
        };
        Ok(RunPlan {
            source: self.source.clone(),
            scenario: self.scenario.clone(),
            users,
            spawn_rate: req.spawn_rate,
            classes: req.classes.clone(),
            settings: RunSettings {
                target,
                tls: self.tls.clone(),
                request_timeout: self.request_timeout,
                stop_timeout: self.stop_timeout,
                tags: self.tags.clone(),
                network: self.network.clone(),
                http: self.http.clone(),
            },
            load: self.load.clone(),
            run_time: req.run_time,
            thresholds: self.thresholds.clone(),
        })
    }
}

/// Checks a change of the running run's users and spawn rate.
///
/// # Errors
///
/// Users over [`MAX_USERS`] or a spawn rate that is not above 0.
pub fn check_change(users: u64, spawn_rate: Option<f64>) -> Result<(), InvalidRun> {
    if users > MAX_USERS {
        return Err(InvalidRun(format!(
            "invalid users `{users}`: expected 0 to {MAX_USERS}"
        )));
    }
    spawn_rate.map_or(Ok(()), check_rate)
}

fn check_rate(rate: f64) -> Result<(), InvalidRun> {
    if rate.is_finite() && rate > 0.0 {
        Ok(())
    } else {
        Err(InvalidRun(format!(
            "invalid spawn rate `{rate}`: expected a number of users per second above 0"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(host: Option<&str>, load: LoadModel) -> RunTemplate {
        let src = ScenarioSource::from_text(
            "s.yaml",
            "users:\n  - name: A\n    sequence:\n      - get: /\n  - name: B\n    sequence:\n      - get: /b\n",
        );
        let scenario = Arc::new(src.compile().unwrap());
        RunTemplate {
            source: src,
            scenario,
            target: host.map(|h| h.parse().unwrap()),
            tls: TlsSettings {
                insecure: false,
                ca_cert_pem: None,
            },
            request_timeout: Duration::from_secs(60),
            stop_timeout: Duration::ZERO,
            tags: Default::default(),
            network: Default::default(),
            http: Default::default(),
            users: 10,
            spawn_rate: 2.0,
            classes: vec![],
            run_time: Some(Duration::from_secs(30)),
            load,
            thresholds: vec![],
        }
    }

    fn err(t: &RunTemplate, req: StartRequest) -> String {
        t.plan(&req).unwrap_err().to_string()
    }

    #[test]
    fn the_defaults_make_a_plan() {
        let t = template(Some("http://127.0.0.1:1"), LoadModel::Users);
        let p = t.plan(&t.defaults()).unwrap();
        assert_eq!((p.users, p.spawn_rate), (10, 2.0));
        assert_eq!(p.settings.target.to_string(), "http://127.0.0.1:1");
        assert_eq!(p.length(), Some(Duration::from_secs(30)));
        assert!(!p.follows_shape());
    }

    #[test]
    fn a_shape_sets_the_users_and_ends_the_run() {
        let stages: Stages = "10s:5,10s:0".parse().unwrap();
        let t = template(Some("http://h"), LoadModel::Stages(stages));
        let p = t.plan(&t.defaults()).unwrap();
        assert_eq!(p.users, 0, "the shape starts from 0");
        assert_eq!(p.length(), Some(Duration::from_secs(20)));
        let p = t
            .plan(&StartRequest {
                run_time: Some(Duration::from_secs(5)),
                ..t.defaults()
            })
            .unwrap();
        assert_eq!(p.length(), Some(Duration::from_secs(5)));
        assert!(p.follows_shape());
    }

    #[test]
    fn bad_requests_get_one_clear_message() {
        let t = template(None, LoadModel::Users);
        assert_eq!(
            err(&t, t.defaults()),
            "no target host: pass --host or set `host:` in the scenario"
        );
        let req = |f: fn(&mut StartRequest)| {
            let mut r = StartRequest {
                host: Some("http://h".into()),
                ..t.defaults()
            };
            f(&mut r);
            r
        };
        assert_eq!(
            err(&t, req(|r| r.host = Some("ftp://x".into()))),
            "invalid host `ftp://x`: expected a url like http://127.0.0.1:8000"
        );
        assert_eq!(
            err(&t, req(|r| r.users = 0)),
            "invalid users `0`: expected 1 to 10000000"
        );
        assert_eq!(
            err(&t, req(|r| r.spawn_rate = f64::NAN)),
            "invalid spawn rate `NaN`: expected a number of users per second above 0"
        );
        assert_eq!(
            err(&t, req(|r| r.run_time = Some(Duration::ZERO))),
            "run time must be above 0"
        );
        assert!(
            err(&t, req(|r| r.classes = vec!["C".into()])).starts_with("unknown user class `C`")
        );
        assert!(check_change(MAX_USERS + 1, None).is_err());
        assert!(check_change(0, Some(-1.0)).is_err());
        assert!(check_change(0, None).is_ok());
    }
}
