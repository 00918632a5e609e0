//! The user pool actor: owns the running virtual users of a worker and moves
//! them towards a target set (which users, by class and cluster-unique index)
//! at the spawn rate, starting the missing ones and stopping the extra ones.
//! Stopping everything is graceful first, then forced after the deadline.
//! In the open model it runs the [`Arrival`] schedule instead: starting users
//! and handing them iterations as they fall due.

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

use stampede_common::run::{ArrivalShare, UserSlot};

use crate::arrival::{Action, Arrival};
use crate::clock::PreciseClock;
use crate::user::Shared;
use crate::vu;

pub(crate) enum Command {
    SetTarget { users: Vec<UserSlot>, rate: f64 },
    SetArrival(ArrivalShare),
    StopAll { reply: oneshot::Sender<()> },
}

struct Running {
    stop: CancellationToken,
    abort: AbortHandle,
    /// Open model: hands the user its next iteration's due time.
    work: Option<mpsc::Sender<Instant>>,
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
    arrival: Option<Arrival>,
    /// Open model: wakes the schedule on time (started with the first share).
    clock: Option<PreciseClock>,
    idle_tx: mpsc::UnboundedSender<UserSlot>,
    idle_rx: mpsc::UnboundedReceiver<UserSlot>,
}

impl Pool {
    pub(crate) fn new(
        shared: Arc<Shared>,
        users: Arc<AtomicUsize>,
        cancel: CancellationToken,
    ) -> Self {
        let (idle_tx, idle_rx) = mpsc::unbounded_channel();
        Self {
            arrival: None,
            clock: None,
            idle_tx,
            idle_rx,
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
        self.arrival = None;
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
            let due = self.arrival.as_ref().and_then(Arrival::next_due);
            if let Some(c) = self.clock.as_mut() {
                c.set(due);
            }
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::SetTarget { users, rate }) => self.set_target(users, rate),
                    Some(Command::SetArrival(share)) => self.set_arrival(share),
                    Some(Command::StopAll { reply }) => {
                        self.stop_all().await;
                        let _ = reply.send(());
                    }
                    None => break,
                },
                _ = ticker.tick(), if pending => self.step_ramp(),
                _ = sleep_until_opt(due), if due.is_some() => self.dispatch_due(),
                _ = ticked(self.clock.as_ref()), if due.is_some() => self.dispatch_due(),
                Some(slot) = self.idle_rx.recv() => {
                    let mut actions = Vec::new();
                    if let Some(a) = self.arrival.as_mut() {
                        a.idle(slot, &mut actions);
                    }
                    self.apply(actions);
                }
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

    /// Takes over an open-model share: closed-model users stop, the users
    /// of an earlier share stay.
    fn set_arrival(&mut self, share: ArrivalShare) {
        self.target.clear();
        self.to_start.clear();
        self.to_stop.clear();
        let closed: Vec<UserSlot> = self
            .running
            .iter()
            .filter(|(_, r)| r.work.is_none())
            .map(|(k, _)| *k)
            .collect();
        for slot in closed {
            if let Some(r) = self.running.remove(&slot) {
                r.stop.cancel();
            }
        }
        self.clock.get_or_insert_with(PreciseClock::new);
        let mut actions = Vec::new();
        let previous = self.arrival.take();
        self.arrival = Some(Arrival::new(share, Instant::now(), previous, &mut actions));
        self.apply(actions);
    }

    /// Hands out the iterations due by now (none when woken early).
    fn dispatch_due(&mut self) {
        let mut actions = Vec::new();
        if let Some(a) = self.arrival.as_mut() {
            a.due(Instant::now(), &mut actions);
        }
        self.apply(actions);
    }

    fn apply(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Run { slot, intended } => {
                    let sent = self
                        .running
                        .get(&slot)
                        .and_then(|r| r.work.as_ref())
                        .is_some_and(|w| w.try_send(intended).is_ok());
                    if !sent {
                        self.shared.recorder.record_dropped_iteration();
                    }
                }
                Action::Start { slot, intended } => {
                    let (work, rx) = mpsc::channel(1);
                    let _ = work.try_send(intended);
                    let stop = self.cancel.child_token();
                    let handle = self.tracker.spawn(vu::run_open(
                        self.shared.clone(),
                        slot,
                        stop.clone(),
                        rx,
                        self.idle_tx.clone(),
                    ));
                    self.running.insert(
                        slot,
                        Running {
                            stop,
                            abort: handle.abort_handle(),
                            work: Some(work),
                        },
                    );
                }
                Action::Drop => self.shared.recorder.record_dropped_iteration(),
                // Closing its work channel ends the user after `on_stop`.
                Action::Retire(slot) => drop(self.running.remove(&slot)),
            }
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
                work: None,
            },
        );
    }

    /// Stops every user: they finish their in-flight request (or, with a stop
    /// timeout, their current task) and are aborted after the deadline.
    async fn stop_all(&mut self) {
        self.arrival = None;
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

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn ticked(clock: Option<&PreciseClock>) {
    match clock {
        Some(c) => c.ticked().await,
        None => std::future::pending().await,
    }
}
