//! The master's state, owned by one task: the workers (connection, state,
//! users, last heartbeat, merged sequence), the current run and its merged
//! statistics. The gRPC handlers and the orchestrator only send it commands.
//! Every membership change during a run rebalances users evenly, moving as few
//! as possible, each worker ramping at its share of the spawn rate.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use stampede_common::scenario::{Scenario, ScenarioSource};
use stampede_common::shape::ArrivalRate;
use stampede_common::stats::{HistoryPoint, RunStats};
use stampede_proto::PROTOCOL_VERSION;
use stampede_proto::convert::decode_interval;
use stampede_proto::v1::{self, master_message, worker_message};
use stampede_worker::UserSlot;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tonic::Status;
use tracing::{debug, error, info, warn};

use super::{ClusterView, FinishedRun, RunView, WorkerInfo, WorkerState};
use crate::MasterError;
use crate::plan::{arrival_shares, assign_classes, rebalance, select_classes, split};

pub(crate) type Outbound = mpsc::Sender<Result<v1::MasterMessage, Status>>;

/// What to run on the cluster.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The scenario as shipped to workers.
    pub source: ScenarioSource,
    /// The same, compiled on the master (class names and weights).
    pub scenario: Arc<Scenario>,
    /// Peak users, cluster-wide.
    pub users: u64,
    /// Users per second, cluster-wide.
    pub spawn_rate: f64,
    /// Only these classes (all when empty).
    pub classes: Vec<String>,
    /// Target and HTTP settings for the workers.
    pub settings: v1::RunSettings,
    /// The open model: iterations on this schedule instead of `users`.
    pub arrival: Option<ArrivalRate>,
}

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
        plan: RunPlan,
        reply: oneshot::Sender<Result<u64, MasterError>>,
    },
    SetUsers {
        users: u64,
        spawn_rate: f64,
        reply: oneshot::Sender<Result<(), MasterError>>,
    },
    Stop {
        reply: oneshot::Sender<Option<FinishedRun>>,
    },
    ResetStats {
        reply: oneshot::Sender<bool>,
    },
    Stats {
        reply: oneshot::Sender<Option<FinishedRun>>,
    },
    View {
        reply: oneshot::Sender<ClusterView>,
    },
    History {
        since_ms: i64,
        reply: oneshot::Sender<Option<Vec<HistoryPoint>>>,
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
    conn: Option<(u64, Outbound)>,
    missing: bool,
    users: u64,
    last_heard: Instant,
    merged_seq: u64,
    prepared: Option<u64>,
    failed_run: Option<u64>,
}

struct Stopping {
    pending: BTreeSet<String>,
    reply: oneshot::Sender<Option<FinishedRun>>,
    deadline: Instant,
}

struct Run {
    id: u64,
    plan: RunPlan,
    selected: Vec<usize>,
    all: Vec<UserSlot>,
    assignment: BTreeMap<String, Vec<UserSlot>>,
    stats: RunStats,
    started: SystemTime,
    /// When it started, for the arrival-rate shape's clock.
    began: Instant,
    /// Open model: the next unused user index.
    next_index: u64,
    stopping: Option<Stopping>,
    /// Every worker that took part at some point.
    participants: BTreeSet<String>,
}

pub(crate) struct Actor {
    timing: Timing,
    workers: BTreeMap<String, Worker>,
    conns: HashMap<u64, String>,
    run: Option<Run>,
    next_run_id: u64,
    live_count: watch::Sender<usize>,
    /// A send dropped a worker: membership changed, rebalance once settled.
    dropped: bool,
}

fn out(kind: master_message::Kind) -> Result<v1::MasterMessage, Status> {
    Ok(v1::MasterMessage { kind: Some(kind) })
}

impl Actor {
    pub(crate) fn new(timing: Timing, live_count: watch::Sender<usize>) -> Self {
        Self {
            timing,
            workers: BTreeMap::new(),
            conns: HashMap::new(),
            run: None,
            // Unique across master restarts, so workers' leftover reports of a
            // run of an earlier master process are never merged into a new one.
            next_run_id: stampede_common::stats::unix_ms(SystemTime::now()).max(1) as u64,
            live_count,
            dropped: false,
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut tick = tokio::time::interval(self.timing.heartbeat);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                _ = tick.tick() => self.tick(),
            }
            while std::mem::take(&mut self.dropped) {
                self.membership_changed();
            }
        }
        debug!("master actor stopped");
    }

    fn live(&self) -> Vec<String> {
        let run_id = self.run.as_ref().map(|r| r.id);
        self.workers
            .iter()
            .filter(|(_, w)| {
                w.conn.is_some() && !w.missing && (run_id.is_none() || w.failed_run != run_id)
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn send(&mut self, id: &str, kind: master_message::Kind) -> bool {
        let Some(w) = self.workers.get_mut(id) else {
            return false;
        };
        let Some((_, tx)) = &w.conn else { return false };
        if tx.try_send(out(kind)).is_ok() {
            return true;
        }
        warn!(worker = id, "worker stream is full or closed; dropping it");
        if let Some((conn, _)) = w.conn.take() {
            self.conns.remove(&conn);
        }
        w.missing = true;
        self.dropped = true;
        false
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Join { conn, hello, tx } => self.join(conn, hello, tx),
            Command::Message { conn, msg } => self.message(conn, msg),
            Command::Left { conn, quit } => self.left(conn, quit),
            Command::Start { plan, reply } => {
                let _ = reply.send(self.start(plan));
            }
            Command::SetUsers {
                users,
                spawn_rate,
                reply,
            } => {
                let _ = reply.send(self.set_users(users, spawn_rate));
            }
            Command::Stop { reply } => self.stop(reply),
            Command::Stats { reply } => {
                let _ = reply.send(self.run.as_ref().map(|r| FinishedRun {
                    stats: r.stats.clone(),
                    started: r.started,
                    ended: SystemTime::now(),
                    workers: r.participants.len(),
                }));
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
                    h[h.partition_point(|p| p.unix_ms <= since_ms)..].to_vec()
                }));
            }
        }
    }

    fn left(&mut self, conn: u64, quit: bool) {
        let Some(id) = self.conns.remove(&conn) else {
            return;
        };
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        if w.conn.as_ref().is_some_and(|c| c.0 == conn) {
            w.conn = None;
            w.missing = true;
            if quit {
                info!(worker = %id, "worker quit; marked missing");
            } else {
                warn!(worker = %id, "worker disconnected; marked missing");
            }
            self.membership_changed();
        }
    }

    fn join(&mut self, conn: u64, hello: v1::Hello, tx: Outbound) {
        let id = hello.worker_id.clone();
        let rejoin = self.workers.contains_key(&id);
        let w = self.workers.entry(id.clone()).or_insert_with(|| Worker {
            hostname: String::new(),
            cores: 0,
            cpu_percent: 0.0,
            conn: None,
            missing: false,
            users: 0,
            last_heard: Instant::now(),
            merged_seq: 0,
            prepared: None,
            failed_run: None,
        });
        if let Some((old, _)) = w.conn.take() {
            self.conns.remove(&old);
        }
        w.hostname = hello.hostname;
        w.cores = hello.cores;
        w.conn = Some((conn, tx));
        w.missing = false;
        w.users = 0;
        w.last_heard = Instant::now();
        // A new connection has no run prepared; reports already merged stay deduplicated.
        w.prepared = None;
        self.conns.insert(conn, id.clone());
        info!(worker = %id, host = %w.hostname, cores = w.cores, rejoin, "worker joined");
        let welcome = v1::Welcome {
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms: self.timing.heartbeat.as_millis() as u64,
        };
        self.send(&id, master_message::Kind::Welcome(welcome));
        if let Some(stopping_run) = self
            .run
            .as_ref()
            .filter(|r| r.stopping.is_some())
            .map(|r| r.id)
        {
            self.send(
                &id,
                master_message::Kind::Stop(v1::Stop {
                    run_id: stopping_run,
                }),
            );
        }
        self.membership_changed();
    }

    fn message(&mut self, conn: u64, msg: v1::WorkerMessage) {
        let Some(id) = self.conns.get(&conn).cloned() else {
            return;
        };
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        w.last_heard = Instant::now();
        match msg.kind {
            Some(worker_message::Kind::Heartbeat(h)) => {
                w.users = h.users;
                w.cpu_percent = h.cpu_percent;
            }
            Some(worker_message::Kind::Stats(report)) => self.stats(&id, report),
            Some(worker_message::Kind::Stopped(s)) => {
                if let Some(st) = self
                    .run
                    .as_mut()
                    .filter(|r| r.id == s.run_id)
                    .and_then(|r| r.stopping.as_mut())
                {
                    st.pending.remove(&id);
                }
                self.maybe_finish(false);
            }
            Some(worker_message::Kind::RunFailed(f)) => {
                error!(worker = %id, run = f.run_id, error = %f.error, "worker cannot take part in the run");
                w.failed_run = Some(f.run_id);
                if let Some(st) = self.run.as_mut().and_then(|r| r.stopping.as_mut()) {
                    st.pending.remove(&id);
                }
                self.membership_changed();
            }
            Some(worker_message::Kind::Hello(_)) | None => {}
        }
    }

    fn stats(&mut self, id: &str, report: v1::StatsReport) {
        let (run_id, seq) = (report.run_id, report.seq);
        if let Some(run) = self.run.as_mut().filter(|r| r.id == run_id) {
            let w = self.workers.get_mut(id).expect("caller checked");
            if seq > w.merged_seq {
                match decode_interval(&report) {
                    Ok(interval) => {
                        run.stats.add(&interval, SystemTime::now());
                        w.merged_seq = seq;
                    }
                    Err(e) => {
                        error!(worker = id, seq, error = %e, "dropping a report that does not decode");
                        return;
                    }
                }
            } else {
                debug!(worker = id, seq, "duplicate report dropped");
            }
        }
        // Acknowledge even reports of other runs, so the worker stops resending them.
        self.send(id, master_message::Kind::Ack(v1::Ack { run_id, seq }));
    }

    fn start(&mut self, mut plan: RunPlan) -> Result<u64, MasterError> {
        if self.run.as_ref().is_some_and(|r| r.stopping.is_none()) {
            return Err(MasterError::Busy);
        }
        if let Some(a) = &plan.arrival {
            // The open model's users are the most it may start.
            plan.users = a.max_users;
            plan.spawn_rate = 0.0;
        }
        let selected = select_classes(&plan.scenario, &plan.classes)?;
        let closed_users = if plan.arrival.is_some() {
            0
        } else {
            plan.users
        };
        let classes = assign_classes(&plan.scenario, &selected, closed_users);
        let all = split(&classes, 1).remove(0);
        let live = self.live();
        let assignment = split(&classes, live.len().max(1))
            .into_iter()
            .zip(&live)
            .map(|(s, w)| (w.clone(), s))
            .collect();
        let id = self.next_run_id;
        self.next_run_id += 1;
        for w in self.workers.values_mut() {
            w.merged_seq = 0;
            w.failed_run = None;
        }
        let now = SystemTime::now();
        info!(
            run = id,
            users = plan.users,
            spawn_rate = plan.spawn_rate,
            workers = live.len(),
            "run started"
        );
        self.run = Some(Run {
            id,
            plan,
            selected,
            all,
            assignment,
            stats: RunStats::new(now),
            started: now,
            began: Instant::now(),
            next_index: 0,
            stopping: None,
            participants: BTreeSet::new(),
        });
        self.rebalance();
        Ok(id)
    }

    fn set_users(&mut self, users: u64, spawn_rate: f64) -> Result<(), MasterError> {
        let Some(run) = self.run.as_mut().filter(|r| r.stopping.is_none()) else {
            return Err(MasterError::NotRunning);
        };
        if run.plan.arrival.is_some() {
            return Err(MasterError::OpenModel);
        }
        let classes = assign_classes(&run.plan.scenario, &run.selected, users);
        run.all = split(&classes, 1).remove(0);
        run.plan.users = users;
        run.plan.spawn_rate = spawn_rate;
        self.rebalance();
        Ok(())
    }

    fn membership_changed(&mut self) {
        let _ = self.live_count.send(self.live().len());
        self.rebalance();
    }

    /// Sends every live worker its share of the run (and the run itself, once).
    fn rebalance(&mut self) {
        let live = self.live();
        let Some(run) = self.run.as_mut().filter(|r| r.stopping.is_none()) else {
            return;
        };
        if live.is_empty() {
            warn!(run = run.id, "no worker left; the run waits for workers");
            return;
        }
        run.assignment = rebalance(&run.assignment, &run.all, &live);
        run.participants.extend(live.iter().cloned());
        let rate = run.plan.spawn_rate / live.len() as f64;
        let (run_id, assignment) = (run.id, run.assignment.clone());
        let prepare = v1::Prepare {
            run_id,
            scenario: Some(v1::Scenario {
                path: run.plan.source.path.clone(),
                text: run.plan.source.text.clone(),
                files: run.plan.source.files.clone().into_iter().collect(),
            }),
            settings: Some(run.plan.settings.clone()),
        };
        let arrival = run.plan.arrival.as_ref().map(|a| {
            arrival_shares(
                a,
                &run.plan.scenario,
                &run.selected,
                live.len(),
                run.began.elapsed(),
                &mut run.next_index,
            )
        });
        for (i, id) in live.iter().enumerate() {
            if self.workers[id].prepared != Some(run_id) {
                self.send(id, master_message::Kind::Prepare(prepare.clone()));
                if let Some(w) = self.workers.get_mut(id) {
                    w.prepared = Some(run_id);
                }
            }
            let spawn = match &arrival {
                Some(shares) => v1::Spawn {
                    run_id,
                    users: Vec::new(),
                    spawn_rate: 0.0,
                    arrival: Some(shares[i].to_wire()),
                },
                None => v1::Spawn {
                    run_id,
                    users: assignment[id]
                        .iter()
                        .map(|u| v1::UserSlot {
                            index: u.index,
                            class: u.class as u32,
                        })
                        .collect(),
                    spawn_rate: rate,
                    arrival: None,
                },
            };
            self.send(id, master_message::Kind::Spawn(spawn));
        }
        debug!(run = run_id, workers = live.len(), "rebalanced");
    }

    fn stop(&mut self, reply: oneshot::Sender<Option<FinishedRun>>) {
        let live = self.live();
        let Some(run) = self.run.as_mut().filter(|r| r.stopping.is_none()) else {
            let _ = reply.send(None);
            return;
        };
        let run_id = run.id;
        let deadline = Instant::now()
            + Duration::from_millis(run.plan.settings.stop_timeout_ms)
            + self.timing.stop_grace;
        run.stopping = Some(Stopping {
            pending: live.iter().cloned().collect(),
            reply,
            deadline,
        });
        info!(run = run_id, workers = live.len(), "stopping the run");
        for id in &live {
            self.send(id, master_message::Kind::Stop(v1::Stop { run_id }));
        }
        self.maybe_finish(false);
    }

    /// Finishes a stopping run once every worker said `Stopped` (or at the deadline).
    fn maybe_finish(&mut self, deadline_check: bool) {
        let live: BTreeSet<String> = self.live().into_iter().collect();
        let Some(run) = self.run.as_mut() else { return };
        let Some(st) = run.stopping.as_mut() else {
            return;
        };
        st.pending.retain(|id| live.contains(id));
        let late = deadline_check && Instant::now() >= st.deadline;
        if !st.pending.is_empty() && !late {
            return;
        }
        if late {
            warn!(workers = ?st.pending, "workers did not confirm the stop in time; finishing without them");
        }
        let mut run = self.run.take().expect("checked");
        let ended = SystemTime::now();
        run.stats.tick(ended, 0, 0);
        let st = run.stopping.take().expect("checked");
        info!(
            run = run.id,
            requests = run.stats.total().requests,
            "run finished"
        );
        let _ = st.reply.send(Some(FinishedRun {
            stats: run.stats,
            started: run.started,
            ended,
            workers: run.participants.len(),
        }));
    }

    fn tick(&mut self) {
        let now = Instant::now();
        let silent: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| {
                w.conn.is_some()
                    && !w.missing
                    && now.duration_since(w.last_heard) >= self.timing.silence
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut changed = false;
        for id in silent {
            warn!(worker = %id, silence = ?self.timing.silence, "worker stopped heartbeating; marked missing");
            if let Some(w) = self.workers.get_mut(&id) {
                if let Some((conn, _)) = w.conn.take() {
                    self.conns.remove(&conn);
                }
                w.missing = true;
                changed = true;
            }
        }
        if changed {
            self.membership_changed();
        }
        let ids: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| w.conn.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.send(
                &id,
                master_message::Kind::Heartbeat(v1::Heartbeat {
                    users: 0,
                    cpu_percent: 0.0,
                }),
            );
        }
        let users: u64 = self
            .workers
            .values()
            .filter(|w| w.conn.is_some())
            .map(|w| w.users)
            .sum();
        if let Some(run) = self.run.as_mut() {
            let rate = run
                .plan
                .arrival
                .as_ref()
                .map(|a| a.shape.rate_at(run.began.elapsed()).unwrap_or_default());
            run.stats.set_target_rate(rate);
            run.stats.tick(SystemTime::now(), users, run.plan.users);
        }
        self.maybe_finish(true);
    }

    fn view(&self) -> ClusterView {
        let now = Instant::now();
        let workers = self
            .workers
            .iter()
            .map(|(id, w)| WorkerInfo {
                id: id.clone(),
                hostname: w.hostname.clone(),
                cores: w.cores,
                cpu_percent: if w.conn.is_some() { w.cpu_percent } else { 0.0 },
                state: if w.missing || w.conn.is_none() {
                    WorkerState::Missing
                } else if self.run.as_ref().is_some_and(|r| w.prepared == Some(r.id)) {
                    WorkerState::Running
                } else {
                    WorkerState::Ready
                },
                users: if w.conn.is_some() { w.users } else { 0 },
                last_heard: now.duration_since(w.last_heard),
            })
            .collect();
        let run = self.run.as_ref().map(|r| RunView {
            id: r.id,
            users: r.plan.users,
            spawn_rate: r.plan.spawn_rate,
            stopping: r.stopping.is_some(),
            snapshot: r.stats.snapshot(SystemTime::now()),
        });
        ClusterView { workers, run }
    }
}
