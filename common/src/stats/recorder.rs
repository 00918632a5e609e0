//! The worker side: [`Recorder`] takes every request's outcome from all
//! virtual users (one lock per endpoint, so users of different endpoints do not
//! contend) and hands the interval's [`IntervalStats`] to the reporter.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{EndpointStats, FailureKey, StatsKey};

/// One reporting interval of one worker: the endpoints that saw requests and
/// the failures by message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntervalStats {
    /// Endpoints with at least one request.
    pub endpoints: Vec<(StatsKey, EndpointStats)>,
    /// Failure counts by endpoint and message.
    pub failures: Vec<(FailureKey, u64)>,
    /// Errors that stopped a step before any request was sent (a template
    /// that failed to render, say), by message: Locust's "exceptions".
    pub exceptions: Vec<(String, u64)>,
}

impl IntervalStats {
    /// Whether nothing happened in the interval.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty() && self.failures.is_empty() && self.exceptions.is_empty()
    }

    /// Requests in the interval.
    pub fn requests(&self) -> u64 {
        self.endpoints.iter().map(|(_, s)| s.requests).sum()
    }

    /// Adds another interval into this one (used to coalesce unsent reports).
    pub fn absorb(&mut self, other: IntervalStats) {
        for (key, stats) in other.endpoints {
            match self.endpoints.iter_mut().find(|(k, _)| *k == key) {
                Some((_, s)) => s.merge(&stats),
                None => self.endpoints.push((key, stats)),
            }
        }
        for (key, n) in other.failures {
            match self.failures.iter_mut().find(|(k, _)| *k == key) {
                Some((_, c)) => *c += n,
                None => self.failures.push((key, n)),
            }
        }
        for (msg, n) in other.exceptions {
            match self.exceptions.iter_mut().find(|(m, _)| *m == msg) {
                Some((_, c)) => *c += n,
                None => self.exceptions.push((msg, n)),
            }
        }
    }
}

/// Collects request outcomes for a fixed set of endpoints (the scenario's).
#[derive(Debug)]
pub struct Recorder {
    keys: Vec<StatsKey>,
    slots: Vec<Mutex<EndpointStats>>,
    failures: Mutex<HashMap<(usize, String), u64>>,
    exceptions: Mutex<HashMap<String, u64>>,
}

impl Recorder {
    /// A recorder with one slot per key; `record` takes the key's index.
    pub fn new(keys: Vec<StatsKey>) -> Self {
        let slots = keys
            .iter()
            .map(|_| Mutex::new(EndpointStats::new()))
            .collect();
        Self {
            keys,
            slots,
            failures: Mutex::new(HashMap::new()),
            exceptions: Mutex::new(HashMap::new()),
        }
    }

    /// Records one request of endpoint `slot`; `error` marks it failed.
    pub fn record(&self, slot: usize, micros: u64, content_bytes: u64, error: Option<&str>) {
        let Some(cell) = self.slots.get(slot) else {
            return;
        };
        cell.lock().unwrap_or_else(|p| p.into_inner()).record(
            micros,
            content_bytes,
            error.is_some(),
        );
        if let Some(err) = error {
            let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            match f.get_mut(&(slot, err.to_owned())) {
                Some(n) => *n += 1,
                None => {
                    f.insert((slot, err.to_owned()), 1);
                }
            }
        }
    }

    /// Counts an error that kept a step from sending its request.
    pub fn record_exception(&self, message: &str) {
        *self
            .exceptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(message.to_owned())
            .or_insert(0) += 1;
    }

    /// Takes everything recorded since the last call.
    pub fn take(&self) -> IntervalStats {
        let mut endpoints = Vec::new();
        for (key, cell) in self.keys.iter().zip(&self.slots) {
            let mut s = cell.lock().unwrap_or_else(|p| p.into_inner());
            if !s.is_empty() {
                let mut out = EndpointStats::new();
                std::mem::swap(&mut out, &mut s);
                endpoints.push((key.clone(), out));
            }
        }
        let failures =
            std::mem::take(&mut *self.failures.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .map(|((slot, error), n)| {
                    (
                        FailureKey {
                            key: self.keys[slot].clone(),
                            error,
                        },
                        n,
                    )
                })
                .collect();
        let exceptions =
            std::mem::take(&mut *self.exceptions.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        IntervalStats {
            endpoints,
            failures,
            exceptions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_drains_and_groups_failures() {
        let r = Recorder::new(vec![
            StatsKey::new("GET", "/a"),
            StatsKey::new("POST", "/b"),
        ]);
        r.record(0, 1000, 10, None);
        r.record(0, 2000, 10, Some("boom"));
        r.record(0, 3000, 10, Some("boom"));
        r.record(9, 1, 1, None); // unknown slot: ignored
        let i = r.take();
        assert_eq!(i.endpoints.len(), 1);
        assert_eq!(i.endpoints[0].1.requests, 3);
        assert_eq!(i.endpoints[0].1.failures, 2);
        assert_eq!(
            i.failures,
            vec![(
                FailureKey {
                    key: StatsKey::new("GET", "/a"),
                    error: "boom".into()
                },
                2
            )]
        );
        assert!(r.take().is_empty());
    }
}
