//! [`WebApp`]: the runs the web UI (or its API, or `--autostart`) starts on
//! the master. It makes a checked start request its [`RunPlan`], ends the run
//! at its run time or when an `abort_on_fail` threshold is lost, moves its
//! users along a `stages` shape, stops it on request, and keeps the last
//! finished run's report for the downloads.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use stampede_common::thresholds::{Threshold, evaluate};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::RunTemplate;
use super::input::{self, StartRequest, WebError};
use crate::cluster::{FinishedRun, MasterHandle, RunPlan};
use crate::report::{LoadModel, RunReport, StopReason};

/// How often run times and `abort_on_fail` thresholds are checked.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// The run the UI started, as it was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub(crate) id: u64,
    pub(crate) plan: RunPlan,
    pub(crate) run_time: Option<Duration>,
    pub(crate) started: SystemTime,
    started_at: Instant,
}

impl Current {
    /// Time left before the run time ends the run.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.run_time
            .map(|t| t.saturating_sub(self.started_at.elapsed()))
    }
}

/// A finished run.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) id: u64,
    pub(crate) classes: Vec<String>,
    pub(crate) report: Arc<RunReport>,
}

/// Where the UI's run is.
#[derive(Debug, Clone, Default)]
pub(crate) enum Phase {
    #[default]
    Idle,
    Starting,
    Running(Current),
    Stopping(Current),
}

impl Phase {
    /// The target of the run going.
    pub(crate) fn host(&self) -> Option<String> {
        match self {
            Phase::Running(c) | Phase::Stopping(c) => Some(c.plan.settings.host.clone()),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Session {
    phase: Phase,
    last: Option<Done>,
}

#[derive(Debug)]
struct Inner {
    master: MasterHandle,
    template: RunTemplate,
    session: Mutex<Session>,
    finished: watch::Sender<u64>,
}

/// The UI's side of the master: start, change, stop, reset, report.
#[derive(Debug, Clone)]
pub struct WebApp {
    inner: Arc<Inner>,
}

impl WebApp {
    /// A UI for `master` whose runs are made from `template`. Watches run
    /// times until `shutdown`; call inside a tokio runtime.
    pub fn new(master: MasterHandle, template: RunTemplate, shutdown: CancellationToken) -> Self {
        let app = Self {
            inner: Arc::new(Inner {
                master,
                template,
                session: Mutex::new(Session::default()),
                finished: watch::channel(0).0,
            }),
        };
        tokio::spawn(watch_runs(Arc::downgrade(&app.inner), shutdown));
        app
    }

    /// The master behind the UI.
    pub fn master(&self) -> &MasterHandle {
        &self.inner.master
    }

    /// The scenario and the form's defaults.
    pub fn template(&self) -> &RunTemplate {
        &self.inner.template
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        // No lock is held across an await; a poisoned lock only means a panic
        // elsewhere, and the session stays consistent field by field.
        self.inner.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The start form's defaults, from the command line and the scenario.
    pub fn defaults(&self) -> StartRequest {
        let plan = &self.inner.template.plan;
        StartRequest {
            users: plan.users,
            spawn_rate: plan.spawn_rate,
            host: Some(plan.settings.host.clone()).filter(|h| !h.is_empty()),
            run_time: self.inner.template.run_time,
            classes: plan.classes.clone(),
        }
    }

    /// Counts finished runs: changes each time one ends.
    pub fn finished_runs(&self) -> watch::Receiver<u64> {
        self.inner.finished.subscribe()
    }

    pub(crate) fn phase(&self) -> Phase {
        self.session().phase.clone()
    }

    pub(crate) fn last(&self) -> Option<Done> {
        self.session().last.clone()
    }

    /// The report of the last finished run.
    pub fn last_report(&self) -> Option<Arc<RunReport>> {
        self.last().map(|d| d.report)
    }

    /// Starts a run on the connected workers; returns its id.
    ///
    /// # Errors
    ///
    /// Bad input, a run already going, no worker connected, or the master gone.
    pub async fn start(&self, req: StartRequest) -> Result<u64, WebError> {
        let plan = input::plan(&self.inner.template, &req)?;
        {
            let mut s = self.session();
            match s.phase {
                Phase::Idle => s.phase = Phase::Starting,
                Phase::Stopping(_) => {
                    return Err(WebError::Conflict(
                        "the previous run is still stopping".into(),
                    ));
                }
                _ => return Err(WebError::Conflict("a run is already in progress".into())),
            }
        }
        if self.inner.master.connected() == 0 {
            self.session().phase = Phase::Idle;
            return Err(WebError::Conflict("no worker is connected yet".into()));
        }
        let mut plan = plan;
        // A shape sets the users (from 0) and ends the run with it.
        let shape_end = match (&self.inner.template.stages, &plan.arrival) {
            (Some(st), _) => {
                plan.users = 0;
                Some(st.total())
            }
            (None, Some(a)) => Some(a.shape.total()),
            (None, None) => None,
        };
        let run_time = match (shape_end, req.run_time) {
            (Some(end), Some(t)) => Some(t.min(end)),
            (end, t) => end.or(t),
        };
        match self.inner.master.start(plan.clone()).await {
            Ok(id) => {
                info!(run = id, users = plan.users, spawn_rate = plan.spawn_rate, host = %plan.settings.host, "run started from the web ui");
                self.session().phase = Phase::Running(Current {
                    id,
                    plan,
                    run_time,
                    started: SystemTime::now(),
                    started_at: Instant::now(),
                });
                Ok(id)
            }
            Err(e) => {
                self.session().phase = Phase::Idle;
                Err(e.into())
            }
        }
    }

    /// Changes the running run's users, and its spawn rate if given.
    ///
    /// # Errors
    ///
    /// Bad input, no run going, or the master gone.
    pub async fn set_users(&self, users: u64, spawn_rate: Option<f64>) -> Result<(), WebError> {
        input::check_change(users, spawn_rate)?;
        let rate = match &self.session().phase {
            Phase::Running(cur) if self.follows_shape(cur) => {
                return Err(WebError::Conflict(
                    "the run follows its load shape (`stages` or `arrival_rate`): its users cannot be changed".into(),
                ));
            }
            Phase::Running(cur) => spawn_rate.unwrap_or(cur.plan.spawn_rate),
            _ => return Err(not_running()),
        };
        self.inner.master.set_users(users, rate).await?;
        if let Phase::Running(cur) = &mut self.session().phase {
            cur.plan.users = users;
            cur.plan.spawn_rate = rate;
        }
        Ok(())
    }

    fn report_of(&self, run: FinishedRun, plan: &RunPlan, reason: StopReason) -> RunReport {
        let mut report = RunReport::new(run, plan, &self.inner.template.thresholds, reason);
        if let Some(st) = &self.inner.template.stages {
            report.load = LoadModel::Stages(st.clone());
        }
        report
    }

    fn follows_shape(&self, cur: &Current) -> bool {
        self.inner.template.stages.is_some() || cur.plan.arrival.is_some()
    }

    /// Moves the run's users along the `stages` shape.
    async fn follow_stages(&self, cur: &Current) {
        let Some(st) = &self.inner.template.stages else {
            return;
        };
        let Some((users, rate)) = st.command_at(cur.started_at.elapsed()) else {
            return;
        };
        if users == cur.plan.users {
            return;
        }
        if let Err(e) = self.inner.master.set_users(users, rate).await {
            warn!(error = %e, "cannot follow the load shape");
            return;
        }
        if let Phase::Running(now) = &mut self.session().phase
            && now.id == cur.id
        {
            now.plan.users = users;
            now.plan.spawn_rate = rate;
        }
    }

    /// Stops the run, waits for the workers' last reports and keeps its report.
    ///
    /// # Errors
    ///
    /// No run going, or the master gone.
    pub async fn stop(&self, reason: StopReason) -> Result<Arc<RunReport>, WebError> {
        let cur = {
            let mut s = self.session();
            let Phase::Running(cur) = &s.phase else {
                return Err(not_running());
            };
            let cur = cur.clone();
            s.phase = Phase::Stopping(cur.clone());
            cur
        };
        let stopped = self.inner.master.stop().await;
        let mut s = self.session();
        s.phase = Phase::Idle;
        let finished = stopped?.ok_or_else(not_running)?;
        let report = Arc::new(self.report_of(finished, &cur.plan, reason));
        info!(
            run = cur.id,
            requests = report.snapshot.total.requests,
            failures = report.snapshot.total.failures,
            reason = reason.as_str(),
            "run finished"
        );
        s.last = Some(Done {
            id: cur.id,
            classes: cur.plan.classes.clone(),
            report: report.clone(),
        });
        drop(s);
        self.inner.finished.send_modify(|n| *n += 1);
        Ok(report)
    }

    /// Forgets the running run's statistics so far.
    ///
    /// # Errors
    ///
    /// No run going, or the master gone.
    pub async fn reset(&self) -> Result<(), WebError> {
        if self.inner.master.reset_stats().await? {
            Ok(())
        } else {
            Err(not_running())
        }
    }

    /// The report of the running run so far, or else of the last finished one.
    ///
    /// # Errors
    ///
    /// No run yet, or the master gone.
    pub async fn report(&self) -> Result<Arc<RunReport>, WebError> {
        if let Phase::Running(cur) | Phase::Stopping(cur) = self.phase()
            && let Some(now) = self.inner.master.stats().await?
        {
            // A run in progress has no stop reason yet; "interrupted" is the
            // closest the report's schema has.
            return Ok(Arc::new(self.report_of(
                now,
                &cur.plan,
                StopReason::Interrupted,
            )));
        }
        self.last_report()
            .ok_or_else(|| WebError::NotFound("no run yet".into()))
    }

    /// Stops the run if one is going (the process is quitting) and returns
    /// the last finished run's report.
    pub async fn shutdown(&self) -> Option<Arc<RunReport>> {
        loop {
            match self.phase() {
                Phase::Idle => break,
                Phase::Running(_) => {
                    if let Err(e) = self.stop(StopReason::Interrupted).await {
                        warn!(error = %e, "cannot stop the run");
                        break;
                    }
                }
                // Another request is starting or stopping the run: let it finish.
                Phase::Starting | Phase::Stopping(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        self.last_report()
    }

    /// Ends the run at its run time, or when an `abort_on_fail` threshold is lost.
    async fn check_run(&self) {
        let Phase::Running(cur) = self.phase() else {
            return;
        };
        if cur.remaining().is_some_and(|r| r.is_zero()) {
            let _ = self.stop(StopReason::RunTime).await;
            return;
        }
        self.follow_stages(&cur).await;
        let elapsed = cur.started_at.elapsed();
        let due: Vec<Threshold> = self
            .inner
            .template
            .thresholds
            .iter()
            .filter(|t| t.abort_on_fail && elapsed >= t.delay_abort_eval)
            .cloned()
            .collect();
        if due.is_empty() {
            return;
        }
        let Ok(view) = self.inner.master.view().await else {
            return;
        };
        let Some(run) = view.run.filter(|r| r.id == cur.id) else {
            return;
        };
        if let Some(lost) = evaluate(&due, &run.snapshot)
            .into_iter()
            .find(|v| !v.passed && v.actual.is_some())
        {
            warn!(threshold = %lost.threshold, "a threshold with abort_on_fail was lost; stopping the run");
            let _ = self.stop(StopReason::ThresholdAborted).await;
        }
    }
}

async fn watch_runs(app: Weak<Inner>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let Some(inner) = app.upgrade() else { return };
        WebApp { inner }.check_run().await;
    }
}

fn not_running() -> WebError {
    WebError::Conflict("no run is in progress".into())
}
