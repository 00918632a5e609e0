//! The master's state, owned by one task: the workers (connection, state,
//! users, last heartbeat, merged sequence), the current run with its merged
//! statistics and its [`Driver`], and the last finished run. The gRPC
//! handlers, the headless loop and the web UI only send it commands.
//! Membership ([`workers`]) and the run's life ([`runs`]) are its two halves.

mod durable;
mod link;
mod runs;
mod workers;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use stampede_common::run::UserSlot;
use stampede_common::stats::{HistoryPoint, RunStats};
use stampede_proto::v1::{self, master_message};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tracing::{Span, debug};

use super::view::{ClusterView, Finished};
use crate::MasterError;
use crate::report::{RunReport, StopReason};
use crate::run::RunPlan;
use crate::run::driver::{DRIVE_EVERY, Driver};
use crate::state::{Durable, Outage, StateDir};

pub(crate) type Outbound = mpsc::Sender<Result<v1::MasterMessage, Status>>;

pub(crate) enum Command {
    Join {
        conn: u64,
        hello: v1::Hello,
        tx: Outbound,
    },
    Message {
        conn: u64,
        msg: v1::WorkerMessage,
    },
    Left {
        conn: u64,
        /// The worker ended its stream itself (it is shutting down), rather
        /// than the connection failing.
        quit: bool,
    },
    Start {
        plan: Box<RunPlan>,
        durable: Option<Box<Durable>>,
        reply: oneshot::Sender<Result<u64, MasterError>>,
    },
    SetUsers {
        users: u64,
        spawn_rate: Option<f64>,
        reply: oneshot::Sender<Result<(u64, f64), MasterError>>,
    },
    Stop {
        reason: StopReason,
        reply: oneshot::Sender<Result<Arc<RunReport>, MasterError>>,
    },
    ResetStats {
        reply: oneshot::Sender<bool>,
    },
    Report {
        reply: oneshot::Sender<Option<Arc<RunReport>>>,
    },
    View {
        reply: oneshot::Sender<ClusterView>,
    },
    History {
        since_ms: i64,
        reply: oneshot::Sender<Option<(u64, Vec<HistoryPoint>)>>,
    },
}

/// Timing of the cluster protocol.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Heartbeats both ways, and the stats tick.
    pub heartbeat: Duration,
    /// A worker silent this long is missing.
    pub silence: Duration,
    /// How long a stop waits for workers' last reports beyond their stop timeout.
    pub stop_grace: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(1),
            silence: Duration::from_secs(3),
            stop_grace: Duration::from_secs(10),
        }
    }
}

struct Worker {
    hostname: String,
    cores: u32,
    cpu_percent: f32,
    conn: Option<link::Link>,
    missing: bool,
    users: u64,
    last_heard: Instant,
    merged_seq: u64,
    prepared: Option<u64>,
    failed_run: Option<u64>,
}

struct Stopping {
    reason: StopReason,
    pending: BTreeSet<String>,
    replies: Vec<oneshot::Sender<Result<Arc<RunReport>, MasterError>>>,
    deadline: Instant,
    /// When the stop began: the end of the run's history.
    began: SystemTime,
}

struct Run {
    id: u64,
    plan: RunPlan,
    driver: Driver,
    selected: Vec<usize>,
    all: Vec<UserSlot>,
    assignment: BTreeMap<String, Vec<UserSlot>>,
    stats: RunStats,
    started: SystemTime,
    /// When it started, for the driver's and the arrival shape's clock.
    began: Instant,
    /// Open model: the next unused user index.
    next_index: u64,
    stopping: Option<Stopping>,
    /// Every worker that took part at some point.
    participants: BTreeSet<String>,
    /// Its state dir, if it keeps one.
    durable: Option<DurableRun>,
    /// Carries the run id on everything logged about it.
    span: Span,
}

/// A run that keeps its state in a state dir.
struct DurableRun {
    dir: StateDir,
    /// Resumed: the last merged sequence of each worker, as the state held.
    floors: BTreeMap<String, u64>,
    outages: Vec<Outage>,
    /// Acks owed, sent once a snapshot that holds their reports is written.
    acks: BTreeMap<String, u64>,
    /// Resumed: seconds of history stay open until the workers that took
    /// part are back (their resent reports belong in them), or until then.
    hold: Option<Instant>,
    /// A save failed: logged once until one works again.
    failing: bool,
}

pub(crate) struct Actor {
    timing: Timing,
    workers: BTreeMap<String, Worker>,
    conns: HashMap<u64, String>,
    run: Option<Run>,
    next_run_id: u64,
    live_count: watch::Sender<usize>,
    finished: watch::Sender<Option<Finished>>,
    /// A send dropped a worker: membership changed, rebalance once settled.
    dropped: bool,
}

fn out(kind: master_message::Kind) -> Result<v1::MasterMessage, Status> {
    Ok(v1::MasterMessage { kind: Some(kind) })
}

impl Actor {
    pub(crate) fn new(
        timing: Timing,
        live_count: watch::Sender<usize>,
        finished: watch::Sender<Option<Finished>>,
    ) -> Self {
        Self {
            timing,
            workers: BTreeMap::new(),
            conns: HashMap::new(),
            run: None,
            // Unique across master restarts, so workers' leftover reports of a
            // run of an earlier master process are never merged into a new one.
            next_run_id: stampede_common::stats::unix_ms(SystemTime::now()).max(1) as u64,
            live_count,
            finished,
            dropped: false,
        }
    }

    /// Serves commands until every sender is gone.
    pub(crate) async fn run(
        mut self,
        mut rx: mpsc::Receiver<Command>,
        shutdown: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(self.timing.heartbeat);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut drive = tokio::time::interval(DRIVE_EVERY);
        drive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.in_run_span(|a| a.command(cmd)),
                    None => break,
                },
                _ = tick.tick() => self.in_run_span(Self::tick),
                _ = drive.tick() => self.in_run_span(Self::drive),
                _ = shutdown.cancelled() => break,
            }
            while std::mem::take(&mut self.dropped) {
                self.membership_changed();
            }
        }
        debug!("master actor stopped");
    }

    /// Runs `f` in the span of the run going (none between runs), so that
    /// everything logged about a run carries its id.
    fn in_run_span(&mut self, f: impl FnOnce(&mut Self)) {
        let span = self
            .run
            .as_ref()
            .map_or_else(Span::none, |r| r.span.clone());
        let _g = span.enter();
        f(self);
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Join { conn, hello, tx } => self.join(conn, hello, tx),
            Command::Message { conn, msg } => self.message(conn, msg),
            Command::Left { conn, quit } => self.left(conn, quit),
            Command::Start {
                plan,
                durable,
                reply,
            } => {
                let _ = reply.send(self.start(*plan, durable.map(|d| *d)));
            }
            Command::SetUsers {
                users,
                spawn_rate,
                reply,
            } => {
                let _ = reply.send(self.change_users(users, spawn_rate));
            }
            Command::Stop { reason, reply } => self.stop(reason, Some(reply)),
            Command::Report { reply } => {
                let _ = reply.send(self.report_so_far());
            }
            Command::ResetStats { reply } => {
                let reset = match self.run.as_mut() {
                    Some(run) => {
                        run.stats.reset(SystemTime::now());
                        true
                    }
                    None => false,
                };
                let _ = reply.send(reset);
            }
            Command::View { reply } => {
                let _ = reply.send(self.view());
            }
            Command::History { since_ms, reply } => {
                let _ = reply.send(self.run.as_ref().map(|r| {
                    let h = r.stats.history();
                    (
                        r.id,
                        h[h.partition_point(|p| p.unix_ms <= since_ms)..].to_vec(),
                    )
                }));
            }
        }
    }
}
