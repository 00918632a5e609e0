//! The actor's run half: starting a run, changing its users, dealing them
//! over the live workers (and the open model's shares), driving it with its
//! [`Driver`], stopping it, and publishing its report when the last worker
//! confirmed the stop.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use stampede_common::run::Assignment;
use stampede_common::stats::RunStats;
use stampede_proto::convert::{assignment_to_wire, scenario_to_wire};
use stampede_proto::v1::{self, master_message};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, info, info_span, warn};

use super::{Actor, DurableRun, Run, Stopping};
use crate::MasterError;
use crate::cluster::view::Finished;
use crate::plan::{arrival_shares, assign_classes, rebalance, select_classes, split};
use crate::report::{FinishedRun, RunReport, StopReason};
use crate::run::driver::{Driver, Step};
use crate::run::{LoadModel, RunPlan};
use crate::state::Durable;

/// How long a resumed run keeps the seconds of the outage open for the
/// workers' resent reports, at most.
const RESUME_HOLD: std::time::Duration = std::time::Duration::from_secs(15);

impl Actor {
    pub(super) fn start(
        &mut self,
        plan: RunPlan,
        durable: Option<Durable>,
    ) -> Result<u64, MasterError> {
        match &self.run {
            Some(r) if r.stopping.is_some() => return Err(MasterError::Stopping),
            Some(_) => return Err(MasterError::Busy),
            None => {}
        }
        let selected = select_classes(&plan.scenario, &plan.classes)?;
        let closed_users = match plan.load {
            LoadModel::Arrival(_) => 0,
            _ => plan.users,
        };
        let classes = assign_classes(&plan.scenario, &selected, closed_users);
        let all = split(&classes, 1).remove(0);
        let live = self.live();
        let assignment = split(&classes, live.len().max(1))
            .into_iter()
            .zip(&live)
            .map(|(s, w)| (w.clone(), s))
            .collect();
        let now = SystemTime::now();
        let (resumed, durable) = match durable {
            Some(d) => (d.resumed, Some(d.dir)),
            None => (None, None),
        };
        let (id, started, stats) = match &resumed {
            Some(r) => (r.run_id, r.started, r.stats.clone()),
            None => {
                self.next_run_id += 1;
                (self.next_run_id - 1, now, RunStats::new(now))
            }
        };
        for w in self.workers.values_mut() {
            w.merged_seq = 0;
            w.failed_run = None;
        }
        let span = info_span!("run", run.id = id);
        span.in_scope(|| match &resumed {
            Some(r) => info!(
                elapsed = ?now.duration_since(started).unwrap_or_default(),
                workers = r.merged.len(),
                requests = stats.total().requests,
                "run resumed from the state dir"
            ),
            None => info!(
                users = plan.users,
                spawn_rate = plan.spawn_rate,
                host = %plan.settings.target,
                workers = live.len(),
                model = plan.load.as_str(),
                "run started"
            ),
        });
        let durable = match durable {
            Some(dir) => {
                if let Err(e) = dir.begin(id, started) {
                    warn!(dir = %dir.path().display(), error = %e, "cannot write the state dir");
                }
                let (floors, outages) = resumed.map(|r| (r.merged, r.outages)).unwrap_or_default();
                Some(DurableRun {
                    dir,
                    hold: (!floors.is_empty()).then(|| Instant::now() + RESUME_HOLD),
                    floors,
                    outages,
                    acks: Default::default(),
                    failing: false,
                })
            }
            None => None,
        };
        let elapsed = now.duration_since(started).unwrap_or_default();
        let participants = durable
            .as_ref()
            .map(|d| d.floors.keys().cloned().collect())
            .unwrap_or_default();
        self.run = Some(Run {
            id,
            driver: Driver::new(&plan),
            plan,
            selected,
            all,
            assignment,
            stats,
            started,
            began: Instant::now()
                .checked_sub(elapsed)
                .unwrap_or_else(Instant::now),
            next_index: 0,
            stopping: None,
            participants,
            durable,
            span,
        });
        // The drive tick moves a `stages` shape's users from here on.
        self.rebalance();
        Ok(id)
    }

    /// A change of users asked from outside (the web UI): refused while a
    /// shape sets the load. Returns the users and spawn rate now.
    pub(super) fn change_users(
        &mut self,
        users: u64,
        spawn_rate: Option<f64>,
    ) -> Result<(u64, f64), MasterError> {
        let Some(run) = self.run.as_ref().filter(|r| r.stopping.is_none()) else {
            return Err(MasterError::NotRunning);
        };
        if run.plan.follows_shape() {
            return Err(MasterError::Shaped);
        }
        let rate = spawn_rate.unwrap_or(run.plan.spawn_rate);
        self.set_users(users, rate);
        Ok((users, rate))
    }

    fn set_users(&mut self, users: u64, spawn_rate: f64) {
        let Some(run) = self.run.as_mut().filter(|r| r.stopping.is_none()) else {
            return;
        };
        let classes = assign_classes(&run.plan.scenario, &run.selected, users);
        run.all = split(&classes, 1).remove(0);
        run.plan.users = users;
        run.plan.spawn_rate = spawn_rate;
        self.rebalance();
    }

    /// Asks the run's driver what it needs now, and does it.
    pub(super) fn drive(&mut self) {
        let Some(run) = self.run.as_mut().filter(|r| r.stopping.is_none()) else {
            return;
        };
        let elapsed = run.began.elapsed();
        let snapshot = run
            .driver
            .judges(elapsed)
            .then(|| run.stats.snapshot(SystemTime::now()));
        match run.driver.step(elapsed, snapshot.as_ref()) {
            Step::Wait => {}
            Step::SetUsers { users, spawn_rate } => self.set_users(users, spawn_rate),
            Step::Stop(reason) => self.stop(reason, None),
        }
    }

    /// Sends every live worker its share of the run (and the run itself, once).
    pub(super) fn rebalance(&mut self) {
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
        let run_id = run.id;
        let prepare = v1::Prepare {
            run_id,
            scenario: Some(scenario_to_wire(&run.plan.source)),
            settings: Some(v1::RunSettings::from(&run.plan.settings)),
        };
        let assignments: Vec<Assignment> = match &run.plan.load {
            LoadModel::Arrival(a) => arrival_shares(
                a,
                &run.plan.scenario,
                &run.selected,
                live.len(),
                run.began.elapsed(),
                &mut run.next_index,
            )
            .into_iter()
            .map(Assignment::Arrival)
            .collect(),
            _ => live
                .iter()
                .map(|id| Assignment::Users {
                    users: run.assignment[id].clone(),
                    spawn_rate: rate,
                })
                .collect(),
        };
        for (id, assignment) in live.iter().zip(&assignments) {
            if self.workers[id].prepared != Some(run_id) {
                self.send(id, master_message::Kind::Prepare(prepare.clone()));
                if let Some(w) = self.workers.get_mut(id) {
                    w.prepared = Some(run_id);
                }
            }
            let spawn = assignment_to_wire(run_id, assignment);
            self.send(id, master_message::Kind::Spawn(spawn));
        }
        debug!(run = run_id, workers = live.len(), "rebalanced");
    }

    /// Stops the run; `reply` (if any) gets its report once every worker
    /// confirmed. A stop already under way keeps its reason.
    pub(super) fn stop(
        &mut self,
        reason: StopReason,
        reply: Option<oneshot::Sender<Result<Arc<RunReport>, MasterError>>>,
    ) {
        let live = self.live();
        let Some(run) = self.run.as_mut() else {
            if let Some(r) = reply {
                let _ = r.send(Err(MasterError::NotRunning));
            }
            return;
        };
        if let Some(st) = run.stopping.as_mut() {
            st.replies.extend(reply);
            return;
        }
        let run_id = run.id;
        let deadline = Instant::now() + run.plan.settings.stop_timeout + self.timing.stop_grace;
        run.stopping = Some(Stopping {
            reason,
            pending: live.iter().cloned().collect(),
            replies: reply.into_iter().collect(),
            deadline,
            began: SystemTime::now(),
        });
        info!(
            run = run_id,
            workers = live.len(),
            reason = reason.as_str(),
            "stopping the run"
        );
        for id in &live {
            self.send(id, master_message::Kind::Stop(v1::Stop { run_id }));
        }
        self.maybe_finish(false);
    }

    /// Finishes a stopping run once every worker said `Stopped` (or at the deadline).
    pub(super) fn maybe_finish(&mut self, deadline_check: bool) {
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
        let began = st.began;
        run.stats.finish(began);
        // The finished numbers on disk (and every report acknowledged).
        self.persist();
        let mut run = self.run.take().expect("checked");
        let ended = SystemTime::now();
        let st = run.stopping.take().expect("checked");
        let outages = run
            .durable
            .as_ref()
            .map(|d| d.outages.clone())
            .unwrap_or_default();
        let measured = FinishedRun {
            stats: run.stats,
            started: run.started,
            ended,
            workers: run.participants.len(),
            outages,
        };
        let report = Arc::new(RunReport::new(run.id, &run.plan, measured, st.reason));
        info!(
            run = run.id,
            requests = report.snapshot.total.requests,
            failures = report.snapshot.total.failures,
            reason = st.reason.as_str(),
            "run finished"
        );
        for reply in st.replies {
            let _ = reply.send(Ok(report.clone()));
        }
        self.finished.send_replace(Some(Finished {
            run_id: run.id,
            report,
        }));
    }

    /// The report of the run going, so far (for downloads during a run).
    pub(super) fn report_so_far(&self) -> Option<Arc<RunReport>> {
        let run = self.run.as_ref()?;
        let measured = FinishedRun {
            stats: run.stats.clone(),
            started: run.started,
            ended: SystemTime::now(),
            workers: run.participants.len(),
            outages: run
                .durable
                .as_ref()
                .map(|d| d.outages.clone())
                .unwrap_or_default(),
        };
        // A run in progress has no stop reason yet; "interrupted" is the
        // closest the report's schema has.
        Some(Arc::new(RunReport::new(
            run.id,
            &run.plan,
            measured,
            StopReason::Interrupted,
        )))
    }
}
