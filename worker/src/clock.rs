//! A precise wake-up for the open model's schedule. tokio's timers fire on
//! millisecond ticks, up to a millisecond after their deadline, and that
//! lateness would show in every iteration's latency from its intended start.
//! [`PreciseClock`] has a thread sleep with the OS's high-resolution timer and
//! wake the pool within tens of microseconds of the deadline instead. The
//! pool still races it against a tokio timer, so paused-time tests (where
//! only tokio's clock moves) see the same schedule.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};

use tokio::sync::Notify;
use tokio::time::Instant;

/// Wakes [`PreciseClock::ticked`] at the last deadline set.
#[derive(Debug)]
pub(crate) struct PreciseClock {
    deadlines: mpsc::Sender<Option<std::time::Instant>>,
    last: Option<Instant>,
    notify: Arc<Notify>,
}

impl PreciseClock {
    /// Starts the clock's thread; it ends when the clock is dropped.
    pub(crate) fn new() -> Self {
        let (deadlines, rx) = mpsc::channel();
        let notify = Arc::new(Notify::new());
        let wake = notify.clone();
        let spawned = std::thread::Builder::new()
            .name("stampede-clock".into())
            .spawn(move || run(&rx, &wake));
        if let Err(e) = spawned {
            // The tokio timer alone then drives the schedule, a little later.
            tracing::warn!(error = %e, "no precise clock thread");
        }
        Self {
            deadlines,
            last: None,
            notify,
        }
    }

    /// Wakes [`ticked`](Self::ticked) at `at` (`None`: not at all).
    pub(crate) fn set(&mut self, at: Option<Instant>) {
        if at != self.last {
            self.last = at;
            let _ = self.deadlines.send(at.map(Instant::into_std));
        }
    }

    /// Resolves at the deadline (or a little after; at worst spuriously early,
    /// so the caller checks the time).
    pub(crate) async fn ticked(&self) {
        self.notify.notified().await;
    }
}

fn run(rx: &mpsc::Receiver<Option<std::time::Instant>>, wake: &Notify) {
    let mut next = None;
    loop {
        let got = match next {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(at) => {
                let now = std::time::Instant::now();
                if at <= now {
                    wake.notify_one();
                    next = None;
                    continue;
                }
                rx.recv_timeout(at - now)
            }
        };
        match got {
            Ok(at) => next = at,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn wakes_close_to_the_deadline() {
        let mut clock = PreciseClock::new();
        let at = Instant::now() + Duration::from_millis(20);
        clock.set(Some(at));
        clock.ticked().await;
        let now = Instant::now();
        assert!(now >= at, "woke {:?} early", at - now);
        // A generous bound: this only checks that it does wake, not how fast.
        assert!(now - at < Duration::from_millis(500), "{:?} late", now - at);
    }
}
