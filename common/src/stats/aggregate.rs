//! The master side: [`RunStats`] merges workers' intervals into run totals per
//! endpoint, failures by message with first/last seen, and the per-second
//! history (`history.rs`) for live views, CSV history and charts.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::cap::{Capped, Held, cap};
use super::history::{History, HistoryPoint, Load, Measured};
use super::{EndpointStats, FailureKey, IntervalStats, PERCENTILES, StatsKey};

/// Seconds of history behind the "current" request rate (Locust uses 10).
const CURRENT_WINDOW: usize = 10;

/// A second of the history is closed this long after its end: by then every
/// report measured in it has come (workers report every 250 ms on the
/// clock's quarter seconds, so each report lies within one second). A report
/// later than that still adds its counts to its second.
pub const CLOSE_AFTER: Duration = Duration::from_secs(1);

/// Occurrences of one failure.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct FailureEntry {
    /// How many times.
    pub occurrences: u64,
    /// When the master first merged it.
    pub first_seen: SystemTime,
    /// When the master last merged it.
    pub last_seen: SystemTime,
}

/// One row of the stats table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsRow {
    /// Method; empty for the Aggregated row.
    pub method: String,
    /// Name, or `Aggregated`.
    pub name: String,
    /// Requests.
    pub requests: u64,
    /// Failures.
    pub failures: u64,
    /// Median response time.
    pub median_ms: f64,
    /// Average response time.
    pub avg_ms: f64,
    /// Fastest.
    pub min_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Average body size in bytes.
    pub avg_content: f64,
    /// Requests per second over the run.
    pub rps: f64,
    /// Failures per second over the run.
    pub fail_per_s: f64,
    /// Requests per second over the last ten seconds.
    pub current_rps: f64,
    /// Percentiles as [`PERCENTILES`].
    pub percentiles_ms: Vec<f64>,
}

impl StatsRow {
    fn from_stats(
        method: &str,
        name: &str,
        s: &EndpointStats,
        elapsed: f64,
        current_rps: f64,
    ) -> Self {
        Self {
            method: method.to_owned(),
            name: name.to_owned(),
            requests: s.requests,
            failures: s.failures,
            median_ms: s.percentile_ms(0.5),
            avg_ms: s.avg_ms(),
            min_ms: s.min_ms(),
            max_ms: s.max_ms(),
            avg_content: s.avg_content(),
            rps: s.requests as f64 / elapsed,
            fail_per_s: s.failures as f64 / elapsed,
            current_rps,
            percentiles_ms: PERCENTILES.iter().map(|q| s.percentile_ms(*q)).collect(),
        }
    }

    /// Failures as a fraction of requests (0 when there were none).
    pub fn fail_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }
}

/// What a stats view shows at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Seconds since the run started.
    pub elapsed_s: f64,
    /// One row per endpoint, sorted by name then method.
    pub rows: Vec<StatsRow>,
    /// The Aggregated row.
    pub total: StatsRow,
    /// Failures sorted by count, largest first.
    pub failures: Vec<(FailureKey, FailureEntry)>,
    /// Errors that kept requests from being sent, by message.
    pub exceptions: Vec<(String, u64)>,
    /// Iterations completed.
    pub iterations: u64,
    /// Open model: iterations due that found no virtual user.
    pub dropped_iterations: u64,
    /// Open model: the uncorrected service times, a row per endpoint (the
    /// `rows` have the times from each iteration's intended start).
    pub service_rows: Vec<StatsRow>,
    /// Open model: the uncorrected service times of every endpoint.
    pub service_total: Option<StatsRow>,
}

/// All statistics of a run, merged from every worker.
#[derive(Debug, Clone)]
pub struct RunStats {
    pub(super) started: SystemTime,
    pub(super) endpoints: BTreeMap<StatsKey, EndpointStats>,
    pub(super) total: EndpointStats,
    pub(super) failures: BTreeMap<FailureKey, FailureEntry>,
    pub(super) exceptions: BTreeMap<String, u64>,
    pub(super) history: History,
    pub(super) open: OpenModel,
    /// The bounds (`cap.rs`) reached so far.
    pub(super) capped: Capped,
}

/// The open model's extra numbers: uncorrected service times and iterations.
#[derive(Debug, Clone, Default)]
pub(super) struct OpenModel {
    pub(super) service: BTreeMap<StatsKey, EndpointStats>,
    pub(super) service_total: Option<EndpointStats>,
    pub(super) iterations: u64,
    pub(super) dropped: u64,
}

impl RunStats {
    /// Empty stats for a run starting at `started`.
    pub fn new(started: SystemTime) -> Self {
        Self {
            started,
            endpoints: BTreeMap::new(),
            total: EndpointStats::new(),
            failures: BTreeMap::new(),
            exceptions: BTreeMap::new(),
            history: History::new(started),
            open: OpenModel::default(),
            capped: Capped::default(),
        }
    }

    /// When the run (or the last reset) started.
    pub fn started(&self) -> SystemTime {
        self.started
    }

    /// Merges one worker interval, `measured` then and received at `now`,
    /// within the run's bounds (`cap.rs`); says which bounds it was the
    /// first to reach, for the caller to warn about once.
    pub fn add(&mut self, interval: &IntervalStats, measured: Measured, now: SystemTime) -> Capped {
        let held = Held {
            endpoints: &self.endpoints,
            failures: &self.failures,
            exceptions: &self.exceptions,
        };
        let (interval, capped) = cap(&held, interval);
        let interval = &*interval;
        let first = Capped {
            names: capped.names && !self.capped.names,
            errors: capped.errors && !self.capped.errors,
        };
        self.capped.names |= capped.names;
        self.capped.errors |= capped.errors;
        self.history.add(interval, measured);
        // Stats off the wire hold only their non-empty buckets: each merge
        // below touches just those.
        for (key, s) in &interval.endpoints {
            self.endpoints.entry(key.clone()).or_default().merge(s);
            if !key.is_group() {
                self.total.merge(s);
            }
        }
        for (key, n) in &interval.failures {
            let e = self.failures.entry(key.clone()).or_insert(FailureEntry {
                occurrences: 0,
                first_seen: now,
                last_seen: now,
            });
            e.occurrences += n;
            e.last_seen = now;
        }
        for (msg, n) in &interval.exceptions {
            *self.exceptions.entry(msg.clone()).or_insert(0) += n;
        }
        let open = &mut self.open;
        for (key, s) in &interval.service {
            open.service.entry(key.clone()).or_default().merge(s);
            open.service_total
                .get_or_insert_with(EndpointStats::new)
                .merge(s);
        }
        open.iterations += interval.iterations;
        open.dropped += interval.dropped_iterations;
        first
    }

    /// Notes the load at `now` for the second it is in, and closes the
    /// seconds of history that ended [`CLOSE_AFTER`] ago.
    pub fn tick(&mut self, now: SystemTime, load: Load) {
        self.history.set_load(now, load);
        if let Some(until) = now.checked_sub(CLOSE_AFTER) {
            self.history.close_until(until);
        }
    }

    /// Closes the history at the end of the run (when its stop began).
    pub fn finish(&mut self, ended: SystemTime) {
        self.history.finish(ended);
    }

    /// The history points so far.
    pub fn history(&self) -> &[HistoryPoint] {
        self.history.points()
    }

    /// Totals over every endpoint.
    pub fn total(&self) -> &EndpointStats {
        &self.total
    }

    /// Per-endpoint totals.
    pub fn endpoints(&self) -> &BTreeMap<StatsKey, EndpointStats> {
        &self.endpoints
    }

    /// Forgets everything (the web UI's "reset stats"), starting over at
    /// `now`.
    pub fn reset(&mut self, now: SystemTime) {
        *self = Self::new(now);
    }

    /// The table as of `now`.
    pub fn snapshot(&self, now: SystemTime) -> Snapshot {
        let elapsed = now
            .duration_since(self.started)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
            .max(1e-3);
        let history = self.history.points();
        let first = history.len().saturating_sub(CURRENT_WINDOW);
        let recent = &history[first..];
        let window_start = if first > 0 {
            history[first - 1].unix_ms
        } else {
            unix_ms(self.started)
        };
        let window_secs = recent.last().map_or(1.0, |p| {
            ((p.unix_ms - window_start) as f64 / 1000.0).max(1e-3)
        });
        // Each endpoint's requests over the window, counted in one pass (a
        // pass per row would be rows × points × endpoints).
        let mut recent_requests: HashMap<&StatsKey, u64> = HashMap::new();
        for e in recent.iter().flat_map(|p| &p.endpoints) {
            *recent_requests.entry(&e.key).or_default() += e.requests;
        }
        let rate = |n: u64| n as f64 / window_secs;
        let rows = self
            .endpoints
            .iter()
            .map(|(k, s)| {
                let current = rate(recent_requests.get(k).copied().unwrap_or(0));
                StatsRow::from_stats(&k.method, &k.name, s, elapsed, current)
            })
            .collect();
        let all: u64 = recent_requests.values().sum();
        let total = StatsRow::from_stats("", "Aggregated", &self.total, elapsed, rate(all));
        let mut failures: Vec<_> = self
            .failures
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        failures.sort_by(|a, b| {
            b.1.occurrences
                .cmp(&a.1.occurrences)
                .then_with(|| a.0.cmp(&b.0))
        });
        let exceptions = self
            .exceptions
            .iter()
            .map(|(m, n)| (m.clone(), *n))
            .collect();
        let open = &self.open;
        Snapshot {
            elapsed_s: elapsed,
            rows,
            total,
            failures,
            exceptions,
            iterations: open.iterations,
            dropped_iterations: open.dropped,
            service_rows: open
                .service
                .iter()
                .map(|(k, s)| StatsRow::from_stats(&k.method, &k.name, s, elapsed, 0.0))
                .collect(),
            service_total: open
                .service_total
                .as_ref()
                .map(|s| StatsRow::from_stats("", "Aggregated", s, elapsed, 0.0)),
        }
    }
}

/// Unix milliseconds of a time.
pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Recorder;

    #[test]
    fn merges_workers_and_keeps_history() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut run = RunStats::new(t0);
        let keys = vec![StatsKey::new("GET", "/a"), StatsKey::new("POST", "/b")];
        for worker in 0..3 {
            let r = Recorder::new(keys.clone());
            for i in 0..100 {
                r.record(i % 2, 1000 + i as u64, 5, (i % 10 == 0).then_some("boom"));
            }
            let at = t0 + Duration::from_millis(900 + worker);
            run.add(
                &r.take(),
                Measured::before(at, Duration::ZERO, Duration::from_millis(800)),
                at,
            );
        }
        let load = Load {
            users: 30,
            target_users: 30,
            target_rate: None,
        };
        run.tick(t0 + Duration::from_millis(500), load);
        run.tick(t0 + Duration::from_secs(3), load);
        let snap = run.snapshot(t0 + Duration::from_secs(2));
        assert_eq!(snap.total.requests, 300);
        assert_eq!(snap.total.failures, 30);
        assert_eq!(snap.rows.len(), 2);
        assert_eq!(snap.rows[0].name, "/a");
        assert!((snap.total.rps - 150.0).abs() < 1e-9);
        assert_eq!(snap.failures[0].1.occurrences, 30);
        let h = &run.history()[0];
        assert_eq!(h.users, 30);
        assert!((h.rps - 300.0).abs() < 1e-9);
        assert_eq!(h.endpoints.len(), 2);
        // Two seconds of history closed, all in the first.
        assert_eq!(run.history().len(), 2);
        assert!(
            (snap.total.current_rps - 150.0).abs() < 1e-6,
            "{}",
            snap.total.current_rps
        );
    }
}
