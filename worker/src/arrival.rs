//! The open model on one worker: the schedule of its share of an
//! arrival-rate shape, per user class, and which virtual user runs each due
//! iteration. An idle user takes it; else a new user is started while the
//! class is under its share of `max_users`; else the iteration is dropped and
//! counted. The schedule never waits for the target, so a slow target gets
//! more concurrent users, not fewer iterations. Plain state: the pool's actor
//! turns the [`Action`]s into tasks, and tests drive it with any clock.

use stampede_common::run::{ArrivalShare, UserSlot};
use stampede_common::shape::ArrivalShape;
use stampede_common::shape::arrival::split_units;
use tokio::time::Instant;

/// What the pool has to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Hand the iteration due at `intended` to this idle user.
    Run { slot: UserSlot, intended: Instant },
    /// Start a new user that runs the iteration due at `intended` first.
    Start { slot: UserSlot, intended: Instant },
    /// An iteration was due and no user could take it.
    Drop,
    /// Stop this idle user: the class is over its share of users.
    Retire(UserSlot),
}

#[derive(Debug)]
struct Lane {
    class: usize,
    shape: ArrivalShape,
    /// Index of the next iteration in `shape`.
    next: u64,
    max: u64,
    alive: u64,
    idle: Vec<UserSlot>,
}

/// The schedule and the users of an open-model run on this worker.
#[derive(Debug)]
pub(crate) struct Arrival {
    origin: Instant,
    lanes: Vec<Lane>,
    next_index: u64,
    end_index: u64,
    free: Vec<u64>,
}

impl Arrival {
    /// Takes over `share` at `now`, keeping the users of `previous` (a share
    /// replaced after workers came or went); retires what no longer fits.
    pub(crate) fn new(
        share: ArrivalShare,
        now: Instant,
        previous: Option<Arrival>,
        actions: &mut Vec<Action>,
    ) -> Self {
        let weights: Vec<u64> = share.classes.iter().map(|c| u64::from(c.1)).collect();
        let shapes = share.shape.split_weighted(&weights);
        let maxes = split_units(share.max_users, &weights);
        let (mut old_lanes, free) = match previous {
            Some(p) => (p.lanes, p.free),
            None => (Vec::new(), Vec::new()),
        };
        let mut lanes = Vec::new();
        for (((class, _), shape), max) in share.classes.iter().zip(shapes).zip(maxes) {
            let (alive, idle) = match old_lanes.iter().position(|l| l.class == *class) {
                Some(i) => {
                    let l = old_lanes.swap_remove(i);
                    (l.alive, l.idle)
                }
                None => (0, Vec::new()),
            };
            lanes.push(Lane {
                class: *class,
                next: shape.first_at_or_after(share.elapsed),
                shape,
                max,
                alive,
                idle,
            });
        }
        let mut arrival = Self {
            origin: now.checked_sub(share.elapsed).unwrap_or(now),
            lanes,
            next_index: share.first_index,
            end_index: share.first_index.saturating_add(share.max_users),
            free,
        };
        // Users of classes that no longer take part retire: idle ones now,
        // busy ones when they come back (they have no lane).
        for lane in old_lanes {
            for slot in lane.idle {
                arrival.free.push(slot.index);
                actions.push(Action::Retire(slot));
            }
        }
        for i in 0..arrival.lanes.len() {
            arrival.trim(i, actions);
        }
        arrival
    }

    fn trim(&mut self, lane: usize, actions: &mut Vec<Action>) {
        let l = &mut self.lanes[lane];
        while l.alive > l.max {
            let Some(slot) = l.idle.pop() else { break };
            l.alive -= 1;
            self.free.push(slot.index);
            actions.push(Action::Retire(slot));
        }
    }

    /// When the next iteration is due; `None` once the shape is over.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.lanes
            .iter()
            .filter_map(|l| l.shape.time_of(l.next))
            .min()
            .map(|t| self.origin + t)
    }

    /// Hands out every iteration due by `now`, in order of due time per class.
    pub(crate) fn due(&mut self, now: Instant, actions: &mut Vec<Action>) {
        for i in 0..self.lanes.len() {
            while let Some(t) = self.lanes[i].shape.time_of(self.lanes[i].next) {
                let intended = self.origin + t;
                if intended > now {
                    break;
                }
                self.lanes[i].next += 1;
                let action = self.dispatch(i, intended);
                actions.push(action);
            }
        }
    }

    fn dispatch(&mut self, lane: usize, intended: Instant) -> Action {
        let l = &mut self.lanes[lane];
        if let Some(slot) = l.idle.pop() {
            return Action::Run { slot, intended };
        }
        if l.alive >= l.max {
            return Action::Drop;
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None if self.next_index < self.end_index => {
                self.next_index += 1;
                self.next_index - 1
            }
            None => return Action::Drop,
        };
        l.alive += 1;
        Action::Start {
            slot: UserSlot {
                index,
                class: l.class,
            },
            intended,
        }
    }

    /// A user finished its iteration: it waits for the next one, or retires
    /// if its class is over its share (or gone).
    pub(crate) fn idle(&mut self, slot: UserSlot, actions: &mut Vec<Action>) {
        match self.lanes.iter().position(|l| l.class == slot.class) {
            Some(i) => {
                self.lanes[i].idle.push(slot);
                self.trim(i, actions);
            }
            None => {
                self.free.push(slot.index);
                actions.push(Action::Retire(slot));
            }
        }
    }

    /// Users alive, idle or busy.
    #[cfg(test)]
    pub(crate) fn alive(&self) -> u64 {
        self.lanes.iter().map(|l| l.alive).sum()
    }
}

#[cfg(test)]
#[path = "arrival_tests.rs"]
mod tests;
