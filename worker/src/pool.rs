//! The user pool actor: owns the running virtual users of a worker and moves
//! them towards a target set (which users, by class and cluster-unique index)
//! at the spawn rate, starting the missing ones and stopping the extra ones.
//! Stopping everything is graceful first, then forced after the deadline.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::vu::{self, Shared};

/// One virtual user the worker should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserSlot {
    /// Cluster-unique user index (feeds `user_index` and feeder rows).
    pub index: u64,
    /// Index of the class in the scenario.
    pub class: usize,
}

pub(crate) enum Command {
    SetTarget { users: Vec<UserSlot>, rate: f64 },
    StopAll { reply: oneshot::Sender<()> },
}

struct Running {
    stop: CancellationToken,
    abort: AbortHandle,
}

/// How long users get after the stop deadline before they are aborted, so an
/// in-flight request can still complete and be counted.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(5);
const RAMP_TICK: Duration = Duration::from_millis(10);

pub(crate) struct Pool {
    shared: Arc<Shared>,
    running: BTreeMap<UserSlot, Running>,
    target: BTreeSet<UserSlot>,
    /// Running users the target no longer has, stopped at the spawn rate.
    to_stop: Vec<UserSlot>,
    /// Target users not running yet, started at the spawn rate in index order.
    to_start: VecDeque<UserSlot>,
    rate: f64,
    ramp_start: Instant,
    ramp_done: u64,
    tracker: TaskTracker,
    users: Arc<AtomicUsize>,
    cancel: CancellationToken,
}

impl Pool {
    pub(crate) fn new(
        shared: Arc<Shared>,
        users: Arc<AtomicUsize>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            shared,
            running: BTreeMap::new(),
            target: BTreeSet::new(),
            to_stop: Vec::new(),
            to_start: VecDeque::new(),
            rate: 1.0,
            ramp_start: Instant::now(),
            ramp_done: 0,
            tracker: TaskTracker::new(),
            users,
            cancel,
        }
    }

    fn pending(&self) -> bool {
        !self.to_stop.is_empty() || !self.to_start.is_empty()
    }

    /// Works out, once per target, which users to stop and which to start.
    fn set_target(&mut self, users: Vec<UserSlot>, rate: f64) {
        self.target = users.into_iter().collect();
        self.to_stop = self
            .running
            .keys()
            .filter(|k| !self.target.contains(k))
            .copied()
            .collect();
        self.to_start = self
            .target
            .iter()
            .filter(|k| !self.running.contains_key(k))
            .copied()
            .collect();
        self.rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            f64::INFINITY
        };
        self.ramp_start = Instant::now();
        self.ramp_done = 0;
        self.step_ramp();
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut ticker = tokio::time::interval(RAMP_TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let pending = self.pending();
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::SetTarget { users, rate }) => self.set_target(users, rate),
                    Some(Command::StopAll { reply }) => {
                        self.stop_all().await;
                        let _ = reply.send(());
                    }
                    None => break,
                },
                _ = ticker.tick(), if pending => self.step_ramp(),
                _ = self.cancel.cancelled() => break,
            }
        }
        self.stop_all().await;
    }

    /// Does the starts and stops the spawn rate allows by now.
    fn step_ramp(&mut self) {
        let due = if self.rate.is_infinite() {
            u64::MAX
        } else {
            (self.ramp_start.elapsed().as_secs_f64() * self.rate).floor() as u64 + 1
        };
        let mut budget = due.saturating_sub(self.ramp_done);
        // Stop extra users first, so a rebalance does not overshoot.
        while budget > 0 {
            let Some(slot) = self.to_stop.pop() else {
                break;
            };
            if let Some(r) = self.running.remove(&slot) {
                r.stop.cancel();
            }
            budget -= 1;
            self.ramp_done += 1;
        }
        while budget > 0 {
            let Some(slot) = self.to_start.pop_front() else {
                break;
            };
            self.start(slot);
            budget -= 1;
            self.ramp_done += 1;
        }
        self.users.store(self.running.len(), Ordering::Relaxed);
    }

    fn start(&mut self, slot: UserSlot) {
        let stop = self.cancel.child_token();
        let shared = self.shared.clone();
        let handle = self
            .tracker
            .spawn(vu::run(shared, slot.class, slot.index, stop.clone()));
        self.running.insert(
            slot,
            Running {
                stop,
                abort: handle.abort_handle(),
            },
        );
    }

    /// Stops every user: they finish their in-flight request (or, with a stop
    /// timeout, their current task) and are aborted after the deadline.
    async fn stop_all(&mut self) {
        self.target.clear();
        self.to_stop.clear();
        self.to_start.clear();
        let aborts: Vec<AbortHandle> = std::mem::take(&mut self.running)
            .into_values()
            .map(|r| {
                r.stop.cancel();
                r.abort
            })
            .collect();
        self.users.store(0, Ordering::Relaxed);
        self.tracker.close();
        let deadline = self.shared.stop_timeout + IN_FLIGHT_GRACE;
        if tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_err()
        {
            let left = aborts.iter().filter(|a| !a.is_finished()).count();
            warn!(
                users = left,
                ?deadline,
                "users did not stop in time, aborting them"
            );
            for a in &aborts {
                a.abort();
            }
            self.tracker.wait().await;
        }
        debug!("all users stopped");
        self.tracker.reopen();
    }
}
