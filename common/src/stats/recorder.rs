//! The worker side: [`Recorder`] takes every request's outcome from all
//! virtual users (one lock per endpoint, so users of different endpoints do not
//! contend) and hands the interval's [`IntervalStats`] to the reporter. In the
//! open model it also keeps each request's uncorrected service time beside its
//! response time measured from the iteration's intended start, and counts the
//! iterations run and dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};

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
    /// Open model only: per endpoint, the time from sending the request to
    /// its response, without the iteration's start delay (the endpoint's
    /// `endpoints` entry has the corrected time).
    pub service: Vec<(StatsKey, EndpointStats)>,
    /// Iterations completed (a pass of a sequence, or a weighted task).
    pub iterations: u64,
    /// Open model: iterations due that found no virtual user to run them.
    pub dropped_iterations: u64,
}

impl IntervalStats {
    /// Whether nothing happened in the interval.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
            && self.failures.is_empty()
            && self.exceptions.is_empty()
            && self.iterations == 0
            && self.dropped_iterations == 0
    }

    /// Requests in the interval.
    pub fn requests(&self) -> u64 {
        self.endpoints
            .iter()
            .filter(|(k, _)| !k.is_group())
            .map(|(_, s)| s.requests)
            .sum()
    }

    /// Adds another interval into this one (used to coalesce unsent reports).
    pub fn absorb(&mut self, other: IntervalStats) {
        for (into, from) in [
            (&mut self.endpoints, other.endpoints),
            (&mut self.service, other.service),
        ] {
            for (key, stats) in from {
                match into.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, s)) => s.merge(&stats),
                    None => into.push((key, stats)),
                }
            }
        }
        self.iterations += other.iterations;
        self.dropped_iterations += other.dropped_iterations;
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

/// Request names a run may add beyond the scenario's own (scripted users'
/// requests are named at run time); more are refused with a message.
pub const MAX_NAMED: usize = 2048;

/// A request name added at run time, with its slots.
#[derive(Debug)]
struct Named {
    key: StatsKey,
    stats: Mutex<EndpointStats>,
    service: Mutex<EndpointStats>,
}

/// Collects request outcomes for the scenario's endpoints, and for names
/// added at run time ([`Recorder::slot`]).
#[derive(Debug)]
pub struct Recorder {
    keys: Vec<StatsKey>,
    slots: Vec<Mutex<EndpointStats>>,
    service: Vec<Mutex<EndpointStats>>,
    /// Run-time names by key, indexing `named` (slot `keys.len() + i`).
    named_index: RwLock<HashMap<StatsKey, usize>>,
    named: Box<[OnceLock<Named>]>,
    failures: Mutex<HashMap<(usize, String), u64>>,
    exceptions: Mutex<HashMap<String, u64>>,
    iterations: AtomicU64,
    dropped: AtomicU64,
}

impl Recorder {
    /// A recorder with one slot per key; `record` takes the key's index.
    pub fn new(keys: Vec<StatsKey>) -> Self {
        let slots = || keys.iter().map(|_| Mutex::default()).collect();
        Self {
            slots: slots(),
            service: slots(),
            keys,
            named_index: RwLock::new(HashMap::new()),
            named: (0..MAX_NAMED).map(|_| OnceLock::new()).collect(),
            failures: Mutex::new(HashMap::new()),
            exceptions: Mutex::new(HashMap::new()),
            iterations: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// The slot of the request named `name` with `method`: the scenario's
    /// own when it has one, else one added now; `None` past [`MAX_NAMED`].
    pub fn slot(&self, method: &str, name: &str) -> Option<usize> {
        let key = StatsKey::new(method, name);
        if let Some(i) = self.keys.iter().position(|k| *k == key) {
            return Some(i);
        }
        if let Some(i) = read(&self.named_index).get(&key) {
            return Some(self.keys.len() + i);
        }
        let mut index = self.named_index.write().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = index.get(&key) {
            return Some(self.keys.len() + i);
        }
        let i = index.len();
        let cell = self.named.get(i)?;
        let _ = cell.set(Named {
            key: key.clone(),
            stats: Mutex::default(),
            service: Mutex::default(),
        });
        index.insert(key, i);
        Some(self.keys.len() + i)
    }

    fn stats_cell(&self, slot: usize) -> Option<&Mutex<EndpointStats>> {
        match self.slots.get(slot) {
            Some(c) => Some(c),
            None => self
                .named
                .get(slot - self.keys.len())?
                .get()
                .map(|n| &n.stats),
        }
    }

    fn service_cell(&self, slot: usize) -> Option<&Mutex<EndpointStats>> {
        match self.service.get(slot) {
            Some(c) => Some(c),
            None => self
                .named
                .get(slot - self.keys.len())?
                .get()
                .map(|n| &n.service),
        }
    }

    fn key(&self, slot: usize) -> &StatsKey {
        match self.keys.get(slot) {
            Some(k) => k,
            None => {
                &self.named[slot - self.keys.len()]
                    .get()
                    .expect("recorded slots exist")
                    .key
            }
        }
    }

    /// Records one request of the open model: `corrected` is measured from
    /// the iteration's intended start (the response time everything reports),
    /// `service` from sending the request.
    pub fn record_open(
        &self,
        slot: usize,
        corrected: u64,
        service: u64,
        content_bytes: u64,
        error: Option<&str>,
    ) {
        if let Some(cell) = self.service_cell(slot) {
            lock(cell).record(service, content_bytes, error.is_some());
        }
        self.record(slot, corrected, content_bytes, error);
    }

    /// Counts a completed iteration.
    pub fn record_iteration(&self) {
        self.iterations.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an iteration that was due but found no virtual user.
    pub fn record_dropped_iteration(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one request of endpoint `slot`; `error` marks it failed.
    pub fn record(&self, slot: usize, micros: u64, content_bytes: u64, error: Option<&str>) {
        let Some(cell) = self.stats_cell(slot) else {
            return;
        };
        lock(cell).record(micros, content_bytes, error.is_some());
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
        let named = || self.named.iter().map_while(OnceLock::get);
        let drain = |cells: &mut dyn Iterator<Item = (&StatsKey, &Mutex<EndpointStats>)>| {
            let mut out = Vec::new();
            for (key, cell) in cells {
                let mut s = lock(cell);
                if !s.is_empty() {
                    out.push((key.clone(), std::mem::take(&mut *s)));
                }
            }
            out
        };
        let endpoints = drain(
            &mut self
                .keys
                .iter()
                .zip(&self.slots)
                .chain(named().map(|n| (&n.key, &n.stats))),
        );
        let service = drain(
            &mut self
                .keys
                .iter()
                .zip(&self.service)
                .chain(named().map(|n| (&n.key, &n.service))),
        );
        let failures =
            std::mem::take(&mut *self.failures.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .map(|((slot, error), n)| {
                    (
                        FailureKey {
                            key: self.key(slot).clone(),
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
            service,
            iterations: self.iterations.swap(0, Ordering::Relaxed),
            dropped_iterations: self.dropped.swap(0, Ordering::Relaxed),
        }
    }
}

fn lock(cell: &Mutex<EndpointStats>) -> std::sync::MutexGuard<'_, EndpointStats> {
    cell.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_added_at_run_time_are_reported_beside_the_scenario_s() {
        use super::*;
        let r = Recorder::new(vec![StatsKey::new("GET", "/a")]);
        assert_eq!(r.slot("GET", "/a"), Some(0));
        let b = r.slot("POST", "/b").unwrap();
        assert_eq!(b, 1);
        assert_eq!(r.slot("POST", "/b"), Some(1));
        r.record(0, 10, 1, None);
        r.record(b, 20, 2, Some("boom"));
        let t = r.take();
        let keys: Vec<_> = t
            .endpoints
            .iter()
            .map(|(k, s)| (k.name.as_str(), s.requests))
            .collect();
        assert_eq!(keys, vec![("/a", 1), ("/b", 1)]);
        assert_eq!(t.failures[0].0.key, StatsKey::new("POST", "/b"));
        for i in 0..MAX_NAMED - 1 {
            assert!(r.slot("GET", &format!("/n{i}")).is_some());
        }
        assert_eq!(r.slot("GET", "/one-too-many"), None);
    }

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

    #[test]
    fn open_model_keeps_service_time_and_iteration_counts() {
        let r = Recorder::new(vec![StatsKey::new("GET", "/a")]);
        r.record_open(0, 5_000, 1_000, 10, None);
        r.record_open(0, 9_000, 2_000, 10, Some("slow"));
        r.record_iteration();
        r.record_iteration();
        r.record_dropped_iteration();
        let i = r.take();
        assert_eq!(i.endpoints[0].1.max_micros, 9_000);
        assert_eq!(i.endpoints[0].1.failures, 1);
        assert_eq!(i.service[0].1.max_micros, 2_000);
        assert_eq!(i.service[0].1.total_micros, 3_000);
        assert_eq!((i.iterations, i.dropped_iterations), (2, 1));
        let mut sum = i.clone();
        sum.absorb(i);
        assert_eq!(sum.service[0].1.requests, 4);
        assert_eq!((sum.iterations, sum.dropped_iterations), (4, 2));
        assert!(r.take().is_empty());
    }
}
