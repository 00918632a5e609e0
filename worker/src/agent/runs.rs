//! The agent's runs: what it does with the master's messages (Prepare,
//! Spawn, Stop, Ack), the run it takes part in, the outbox of reports owed
//! and the stop of its users. Everything here is plain state driven by the
//! connection loop in the parent module; wire messages are turned into the
//! domain's types (and checked) by `stampede_proto::convert`.

use std::sync::Arc;

use stampede_common::run::RunSettings;
use stampede_common::scenario::Scenario;
use stampede_proto::convert::{assignment_from_wire, scenario_from_wire};
use stampede_proto::v1::{self, master_message, worker_message};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{Span, error, info, info_span, warn};

use super::config::{AgentConfig, AgentStatus};
use super::cpu::CpuMeter;
use super::link::msg;
use super::outbox::Outbox;
use crate::Engine;

/// How long a leaving worker waits for the master to acknowledge its last reports.
const LEAVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) struct ActiveRun {
    id: u64,
    engine: Arc<Engine>,
    /// User classes of its scenario.
    classes: usize,
    stopping: Option<oneshot::Receiver<()>>,
    /// Carries the run id on everything logged about the run.
    span: Span,
    /// When the numbers not yet collected began.
    since: Instant,
}

pub(super) struct Agent {
    pub(super) cfg: AgentConfig,
    run: Option<ActiveRun>,
    pub(super) outbox: Outbox,
    /// `Stopped` messages owed to the master, sent after the reports.
    stopped_owed: Vec<u64>,
    /// Runs this worker could not take part in, owed as `RunFailed`.
    failed: Vec<(u64, String)>,
    pub(super) status: AgentStatus,
    cpu: CpuMeter,
    last_heartbeat: Instant,
}

impl Agent {
    pub(super) fn new(cfg: AgentConfig) -> Self {
        let cfg_interval = cfg.interval;
        Self {
            cfg,
            run: None,
            outbox: Outbox::default(),
            stopped_owed: Vec::new(),
            failed: Vec::new(),
            status: AgentStatus::default(),
            cpu: CpuMeter::new(),
            // The first flush heartbeats at once.
            last_heartbeat: Instant::now()
                .checked_sub(cfg_interval)
                .unwrap_or_else(Instant::now),
        }
    }

    /// The span of the run this worker takes part in (none between runs).
    pub(super) fn span(&self) -> Span {
        self.run
            .as_ref()
            .map_or_else(Span::none, |r| r.span.clone())
    }

    pub(super) async fn handle(&mut self, m: v1::MasterMessage) {
        match m.kind {
            Some(master_message::Kind::Prepare(p)) => self.prepare(p).await,
            Some(master_message::Kind::Spawn(s)) => self.spawn(&s).await,
            Some(master_message::Kind::Stop(s)) => {
                if self.run.as_ref().is_some_and(|r| r.id == s.run_id) {
                    self.begin_stop("the master stopped the run");
                } else {
                    self.stopped_owed.push(s.run_id);
                }
            }
            Some(master_message::Kind::Ack(a)) => {
                self.outbox.ack(a.run_id, a.seq);
                self.publish();
            }
            Some(master_message::Kind::Welcome(_) | master_message::Kind::Heartbeat(_)) | None => {}
        }
    }

    /// A new assignment in the run going. One that does not fit the scenario
    /// (a class it lacks) ends this worker's part in the run with `RunFailed`;
    /// the worker itself goes on serving.
    async fn spawn(&mut self, s: &v1::Spawn) {
        let Some(run) = self
            .run
            .as_ref()
            .filter(|r| r.id == s.run_id && r.stopping.is_none())
        else {
            return;
        };
        let (engine, span) = (run.engine.clone(), run.span.clone());
        match assignment_from_wire(s, run.classes) {
            Ok(assignment) => {
                let _ = engine.assign(assignment).await;
            }
            Err(e) => {
                let _g = span.enter();
                self.fail_run(s.run_id, format!("invalid assignment: {e}"));
                self.begin_stop("the assignment is invalid");
            }
        }
    }

    async fn prepare(&mut self, p: v1::Prepare) {
        if self.run.as_ref().is_some_and(|r| r.id == p.run_id) {
            return;
        }
        if self.run.is_some() {
            self.begin_stop("a new run replaces it");
            self.finish_stop().await;
        }
        let span = info_span!("run", run.id = p.run_id);
        let _g = span.enter();
        match prepared(p.scenario, p.settings) {
            Ok((scenario, mut settings)) => {
                if let Some(own) = &self.cfg.proxy {
                    settings.http.proxy = own.clone();
                }
                let classes = scenario.classes.len();
                match Engine::start(Arc::new(scenario), &settings, span.clone()) {
                    Ok(engine) => {
                        info!("run prepared");
                        drop(_g);
                        self.run = Some(ActiveRun {
                            id: p.run_id,
                            engine: Arc::new(engine),
                            classes,
                            stopping: None,
                            span,
                            since: Instant::now(),
                        });
                    }
                    Err(e) => self.fail_run(p.run_id, e.to_string()),
                }
            }
            Err(e) => self.fail_run(p.run_id, e),
        }
    }

    fn fail_run(&mut self, run_id: u64, error: String) {
        error!(run = run_id, error = %error, "cannot take part in the run");
        self.failed.push((run_id, error));
    }

    /// Moves the interval's measurements into the outbox.
    pub(super) fn collect(&mut self) {
        if let Some(run) = &mut self.run {
            let interval = run.engine.take_stats();
            let now = Instant::now();
            let since = std::mem::replace(&mut run.since, now);
            if !interval.is_empty() {
                self.outbox
                    .push(run.id, run.engine.users() as u64, &interval, (since, now));
            }
        }
        self.publish();
    }

    pub(super) fn publish(&mut self) {
        self.status.run = self.run.as_ref().map(|r| r.id);
        self.status.users = self.run.as_ref().map_or(0, |r| r.engine.users());
        self.status.unacked = self.outbox.len();
        if let Some(tx) = &self.cfg.status {
            tx.send_if_modified(|s| {
                let changed = *s != self.status;
                *s = self.status.clone();
                changed
            });
        }
    }

    /// Starts stopping the users in the background (heartbeats go on meanwhile).
    pub(super) fn begin_stop(&mut self, why: &str) {
        if let Some(run) = self.run.as_mut().filter(|r| r.stopping.is_none()) {
            info!(run = run.id, reason = why, "stopping users");
            let (done, rx) = oneshot::channel();
            let engine = run.engine.clone();
            tokio::spawn(async move {
                let _ = engine.stop_all().await;
                let _ = done.send(());
            });
            run.stopping = Some(rx);
        }
    }

    /// When the users have stopped: the last report, then `Stopped` is owed.
    pub(super) fn poll_stopped(&mut self) {
        let done = match self.run.as_mut().and_then(|r| r.stopping.as_mut()) {
            Some(rx) => !matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            None => false,
        };
        if done {
            self.collect();
            if let Some(run) = self.run.take() {
                self.stopped_owed.push(run.id);
            }
        }
    }

    pub(super) async fn finish_stop(&mut self) {
        if let Some(rx) = self.run.as_mut().and_then(|r| r.stopping.take()) {
            let _ = rx.await;
            self.collect();
            if let Some(run) = self.run.take() {
                self.stopped_owed.push(run.id);
            }
        }
    }

    /// Sends unsent reports, owed messages and a heartbeat; false when the stream is closed.
    pub(super) async fn flush(&mut self, tx: &mpsc::Sender<v1::WorkerMessage>) -> bool {
        let mut out: Vec<v1::WorkerMessage> = self
            .outbox
            .take_unsent()
            .into_iter()
            .map(|r| msg(worker_message::Kind::Stats(r)))
            .collect();
        out.extend(self.failed.drain(..).map(|(run_id, error)| {
            msg(worker_message::Kind::RunFailed(v1::RunFailed {
                run_id,
                error,
            }))
        }));
        out.extend(
            self.stopped_owed
                .drain(..)
                .map(|run_id| msg(worker_message::Kind::Stopped(v1::Stopped { run_id }))),
        );
        if self.last_heartbeat.elapsed() >= self.cfg.interval {
            self.last_heartbeat = Instant::now();
            let users = self.run.as_ref().map_or(0, |r| r.engine.users() as u64);
            out.push(msg(worker_message::Kind::Heartbeat(v1::Heartbeat {
                users,
                cpu_percent: self.cpu.sample(),
            })));
        }
        for m in out {
            if tx.send(m).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Leaving: waits (briefly) until the master acknowledged every report,
    /// so a worker that stops on purpose loses nothing.
    pub(super) async fn drain_acks(&mut self, inbound: &mut tonic::Streaming<v1::MasterMessage>) {
        let deadline = Instant::now() + LEAVE_TIMEOUT;
        while !self.outbox.is_empty() {
            match tokio::time::timeout_at(deadline, inbound.message()).await {
                Ok(Ok(Some(m))) => self.handle(m).await,
                _ => {
                    warn!(
                        unacked = self.outbox.len(),
                        "leaving with unacknowledged reports"
                    );
                    return;
                }
            }
        }
    }

    pub(super) async fn shutdown(&mut self) {
        self.begin_stop("shutting down");
        self.finish_stop().await;
    }
}

/// Resolves when the run's users have all stopped; never without a stop under way.
pub(super) async fn stop_done(agent: &mut Agent) {
    match agent.run.as_mut().and_then(|r| r.stopping.as_mut()) {
        Some(rx) => {
            let _ = rx.await;
        }
        None => std::future::pending().await,
    }
}

/// The scenario and settings of a `Prepare`, compiled and checked.
fn prepared(
    scenario: Option<v1::Scenario>,
    settings: Option<v1::RunSettings>,
) -> Result<(Scenario, RunSettings), String> {
    let scenario = scenario.ok_or("the run came without its scenario")?;
    let settings = settings.ok_or("the run came without its settings")?;
    let settings =
        RunSettings::try_from(settings).map_err(|e| format!("invalid run settings: {e}"))?;
    let mut scenario = scenario_from_wire(scenario)
        .compile()
        .map_err(|e| e.to_string())?;
    scenario.select_tags(&settings.tags)?;
    Ok((scenario, settings))
}
