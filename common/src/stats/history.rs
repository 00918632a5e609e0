//! The run's per-second history, bucketed by when the numbers were
//! measured: each worker interval lands in the second (of the clock, as
//! workers report on the clock's quarter seconds, so an interval lies in one
//! second) that holds its middle: the worker's own interval bounds, not the
//! report's arrival. A second is closed into a [`HistoryPoint`] once reports
//! for it can no longer be on their way; the first and the last, partial
//! seconds' rates are their counts over their real length. A report that comes after its second was
//! closed (a worker resending after an outage) still adds its counts to
//! that second's point; its latency is in the totals only.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::aggregate::unix_ms;
use super::{EndpointStats, IntervalStats, PERCENTILES, StatsKey};

/// When a worker measured an interval, on the master's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    /// Start of the interval.
    pub start: SystemTime,
    /// End of the interval.
    pub end: SystemTime,
}

impl Measured {
    /// An interval of `length` that ended `ago` before `received`.
    pub fn before(received: SystemTime, ago: Duration, length: Duration) -> Self {
        let end = received.checked_sub(ago).unwrap_or(received);
        Self {
            start: end.checked_sub(length).unwrap_or(end),
            end,
        }
    }

    fn middle(&self) -> SystemTime {
        let half = self.end.duration_since(self.start).unwrap_or_default() / 2;
        self.start + half
    }
}

/// One endpoint's numbers over one second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointPoint {
    /// The endpoint.
    pub key: StatsKey,
    /// Requests in the second.
    pub requests: u64,
    /// Failures in the second.
    pub failures: u64,
    /// Percentiles of the second, as [`PERCENTILES`].
    pub percentiles_ms: Vec<f64>,
    /// Average of the second.
    pub avg_ms: f64,
    /// The endpoint since the start, as of the end of the second.
    pub total: Cumulative,
}

impl EndpointPoint {
    /// Endpoint `key`'s second `e`, with `total` its numbers since the start.
    fn of(key: &StatsKey, e: &EndpointStats, total: &EndpointStats) -> Self {
        Self {
            key: key.clone(),
            requests: e.requests,
            failures: e.failures,
            percentiles_ms: PERCENTILES.iter().map(|q| e.percentile_ms(*q)).collect(),
            avg_ms: e.avg_ms(),
            total: Cumulative::of(total),
        }
    }
}

/// Numbers since the start of the run, as of one second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cumulative {
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
    /// Average body size.
    pub avg_content: f64,
}

impl Cumulative {
    pub(super) fn of(s: &EndpointStats) -> Self {
        Self {
            requests: s.requests,
            failures: s.failures,
            median_ms: s.percentile_ms(0.5),
            avg_ms: s.avg_ms(),
            min_ms: s.min_ms(),
            max_ms: s.max_ms(),
            avg_content: s.avg_content(),
        }
    }
}

/// The whole cluster over one second of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// End of the second (of the run, for the last one), unix milliseconds.
    pub unix_ms: i64,
    /// Users running in the second.
    pub users: u64,
    /// Users the run asked for in the second (the load shape's target).
    pub target_users: u64,
    /// Open model: the iterations per second the shape asked for.
    pub target_rate: Option<f64>,
    /// Iterations completed per second.
    pub iterations_per_s: f64,
    /// Open model: iterations dropped per second.
    pub dropped_per_s: f64,
    /// Requests per second.
    pub rps: f64,
    /// Failures per second.
    pub fail_per_s: f64,
    /// Percentiles of the second, as [`PERCENTILES`].
    pub percentiles_ms: Vec<f64>,
    /// Average of the second.
    pub avg_ms: f64,
    /// Everything since the start, as of the end of the second.
    pub total: Cumulative,
    /// Per endpoint, for the endpoints that had requests in the second.
    pub endpoints: Vec<EndpointPoint>,
}

/// What the master knew of the load in one second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// Users running.
    pub users: u64,
    /// Users asked for.
    pub target_users: u64,
    /// Open model: iterations per second asked for.
    pub target_rate: Option<f64>,
}

/// What was measured in one second not yet closed.
#[derive(Debug, Clone, Default)]
pub(super) struct Bucket {
    pub(super) endpoints: BTreeMap<StatsKey, EndpointStats>,
    pub(super) total: EndpointStats,
    pub(super) iterations: u64,
    pub(super) dropped: u64,
}

/// The per-second history of a run.
#[derive(Debug, Clone)]
pub(super) struct History {
    pub(super) started: SystemTime,
    pub(super) open: BTreeMap<u64, Bucket>,
    /// Seconds before this one are closed into `points`.
    pub(super) next: u64,
    pub(super) points: Vec<HistoryPoint>,
    /// Totals of the closed seconds, for each point's `total`.
    pub(super) closed: BTreeMap<StatsKey, EndpointStats>,
    pub(super) closed_total: EndpointStats,
    pub(super) load: BTreeMap<u64, Load>,
    pub(super) last_load: Load,
}

impl History {
    pub(super) fn new(started: SystemTime) -> Self {
        let first = started
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Self {
            started,
            open: BTreeMap::new(),
            next: first,
            points: Vec::new(),
            closed: BTreeMap::new(),
            closed_total: EndpointStats::new(),
            load: BTreeMap::new(),
            last_load: Load::default(),
        }
    }

    /// The clock's second `t` is in (the run's first one if before).
    fn second(&self, t: SystemTime) -> u64 {
        t.max(self.started)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    }

    /// The start of second `s` within the run.
    fn start_of(&self, s: u64) -> SystemTime {
        (UNIX_EPOCH + Duration::from_secs(s)).max(self.started)
    }

    /// Puts one interval in the second that holds its middle.
    pub(super) fn add(&mut self, interval: &IntervalStats, measured: Measured) {
        let s = self.second(measured.middle());
        if s < self.next {
            return self.add_late(s, interval);
        }
        let b = self.open.entry(s).or_default();
        for (key, e) in &interval.endpoints {
            b.endpoints.entry(key.clone()).or_default().merge(e);
            if !key.is_group() {
                b.total.merge(e);
            }
        }
        b.iterations += interval.iterations;
        b.dropped += interval.dropped_iterations;
    }

    /// Counts of a second already closed: into its point.
    fn add_late(&mut self, s: u64, interval: &IntervalStats) {
        // The point that ends after the second begins (older points may
        // have been merged into longer ones).
        let i = self
            .points
            .partition_point(|p| p.unix_ms <= (s * 1000) as i64);
        if i >= self.points.len() {
            return;
        }
        let endpoints: Vec<_> = interval.endpoints.iter().map(|(k, e)| (k, e)).collect();
        self.add_to_point(
            i,
            &endpoints,
            interval.iterations,
            interval.dropped_iterations,
        );
        tracing::debug!(second = s, "a late report added to a closed second");
    }

    /// Counts measured within point `i` that it did not hold yet: into its
    /// rates (over its length) and endpoints, and into the totals of it and
    /// of the points after it. Its percentiles stay as they were.
    fn add_to_point(
        &mut self,
        i: usize,
        endpoints: &[(&StatsKey, &EndpointStats)],
        iterations: u64,
        dropped: u64,
    ) {
        let secs = self.length_of(i);
        let p = &mut self.points[i];
        for &(key, e) in endpoints {
            if !key.is_group() {
                p.rps += e.requests as f64 / secs;
                p.fail_per_s += e.failures as f64 / secs;
                self.closed_total.merge(e);
            }
            match p.endpoints.iter_mut().find(|x| &x.key == key) {
                Some(x) => {
                    x.requests += e.requests;
                    x.failures += e.failures;
                }
                None => p.endpoints.push(EndpointPoint::of(key, e, e)),
            }
            self.closed.entry(key.clone()).or_default().merge(e);
        }
        p.iterations_per_s += iterations as f64 / secs;
        p.dropped_per_s += dropped as f64 / secs;
        for p in &mut self.points[i..] {
            for (key, _) in endpoints {
                if let Some(x) = p.endpoints.iter_mut().find(|x| &x.key == *key) {
                    x.total = Cumulative::of(&self.closed[*key]);
                }
            }
            p.total = Cumulative::of(&self.closed_total);
        }
    }

    /// The length in seconds of point `i`.
    fn length_of(&self, i: usize) -> f64 {
        let end = self.points[i].unix_ms;
        let start = if i == 0 {
            unix_ms(self.started)
        } else {
            self.points[i - 1].unix_ms
        };
        ((end - start) as f64 / 1000.0).max(1e-3)
    }

    /// What the load was at `now`, for the second `now` is in.
    pub(super) fn set_load(&mut self, now: SystemTime, load: Load) {
        let s = self.second(now);
        if s >= self.next {
            self.load.insert(s, load);
        }
        self.last_load = load;
    }

    /// Closes every second that ended at or before `until`.
    pub(super) fn close_until(&mut self, until: SystemTime) {
        let end = self.second(until);
        while self.next < end {
            let s = self.next;
            let end_at = UNIX_EPOCH + Duration::from_secs(s + 1);
            let secs = end_at
                .duration_since(self.start_of(s))
                .unwrap_or_default()
                .as_secs_f64();
            self.close(s, end_at, secs.max(1e-3));
        }
    }

    /// Closes every second up to the end of the run at `ended`, the last
    /// one over its real length. A last piece shorter than a quarter second
    /// joins the second before it, whose rates then cover both.
    pub(super) fn finish(&mut self, ended: SystemTime) {
        self.close_until(ended);
        let last_start = self.start_of(self.next);
        let secs = ended
            .duration_since(last_start)
            .unwrap_or_default()
            .as_secs_f64();
        // Whatever was measured after the end (the last requests in
        // flight, a worker's clock a little ahead) belongs to the last piece.
        let mut b = Bucket::default();
        for l in std::mem::take(&mut self.open).into_values() {
            for (k, e) in &l.endpoints {
                b.endpoints.entry(k.clone()).or_default().merge(e);
            }
            b.total.merge(&l.total);
            b.iterations += l.iterations;
            b.dropped += l.dropped;
        }
        let s = self.next;
        let nothing = b.total.is_empty() && b.endpoints.is_empty() && b.iterations == 0;
        if nothing && secs < 1e-3 {
            // The run ended on a second's boundary: no piece after it.
            return;
        }
        if secs >= 0.25 || self.points.is_empty() {
            self.open.insert(s, b);
            self.close(s, ended.max(last_start), secs.max(1e-3));
            return;
        }
        // The short piece into the last point, whose rates then cover both.
        let i = self.points.len() - 1;
        let before = self.length_of(i);
        let p = &mut self.points[i];
        let scale = before / (before + secs);
        for rate in [
            &mut p.rps,
            &mut p.fail_per_s,
            &mut p.iterations_per_s,
            &mut p.dropped_per_s,
        ] {
            *rate *= scale;
        }
        p.unix_ms = unix_ms(ended.max(last_start));
        let endpoints: Vec<_> = b.endpoints.iter().collect();
        self.add_to_point(i, &endpoints, b.iterations, b.dropped);
    }

    fn close(&mut self, s: u64, end_at: SystemTime, secs: f64) {
        let b = self.open.remove(&s).unwrap_or_default();
        let load = self
            .load
            .range(..=s)
            .next_back()
            .map_or(self.last_load, |(_, l)| *l);
        self.load = self.load.split_off(&s);
        let mut endpoints = Vec::with_capacity(b.endpoints.len());
        for (k, e) in &b.endpoints {
            let cum = self.closed.entry(k.clone()).or_default();
            cum.merge(e);
            endpoints.push(EndpointPoint::of(k, e, cum));
        }
        self.closed_total.merge(&b.total);
        let t = &b.total;
        self.points.push(HistoryPoint {
            unix_ms: unix_ms(end_at),
            users: load.users,
            target_users: load.target_users,
            target_rate: load.target_rate,
            iterations_per_s: b.iterations as f64 / secs,
            dropped_per_s: b.dropped as f64 / secs,
            rps: t.requests as f64 / secs,
            fail_per_s: t.failures as f64 / secs,
            percentiles_ms: PERCENTILES.iter().map(|q| t.percentile_ms(*q)).collect(),
            avg_ms: t.avg_ms(),
            total: Cumulative::of(&self.closed_total),
            endpoints,
        });
        self.next = s + 1;
        super::downsample::downsample(&mut self.points, unix_ms(self.started));
    }

    pub(super) fn points(&self) -> &[HistoryPoint] {
        &self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Recorder;

    fn interval(n: u64) -> IntervalStats {
        let r = Recorder::new(vec![StatsKey::new("GET", "/")]);
        for i in 0..n {
            r.record(0, 1000 + i, 1, None);
        }
        r.take()
    }

    fn at(t0: SystemTime, ms: u64) -> SystemTime {
        t0 + Duration::from_millis(ms)
    }

    /// Two workers at 100 requests a second each, reporting on the clock's
    /// quarter seconds (one from the start, one from its first report a
    /// little later), for `ms` of run from `t0`, 300 ms into a second.
    fn steady(t0: SystemTime, h: &mut History, ms: u64) -> u64 {
        let mut total = 0;
        for (phase, per) in [(200u64, 25u64), (450, 25)] {
            let (mut start, mut end) = (0, phase);
            loop {
                let stop = end.min(ms);
                let n = per * (stop - start) / 250;
                total += n;
                h.add(
                    &interval(n),
                    Measured {
                        start: at(t0, start),
                        end: at(t0, stop),
                    },
                );
                if stop == ms {
                    break;
                }
                (start, end) = (stop, stop + 250);
            }
        }
        total
    }

    #[test]
    fn a_steady_run_has_flat_seconds_the_last_over_its_real_length() {
        let t0 = UNIX_EPOCH + Duration::from_millis(1_000_000_300);
        let mut h = History::new(t0);
        let sent = steady(t0, &mut h, 5_200);
        h.close_until(at(t0, 2_700));
        assert_eq!(h.points().len(), 3);
        h.finish(at(t0, 5_200));
        let rates: Vec<f64> = h.points().iter().map(|p| p.rps).collect();
        assert_eq!(rates.len(), 6, "{rates:?}");
        for r in &rates {
            assert!((r - 200.0).abs() <= 20.0, "{rates:?}");
        }
        let last = h.points().last().unwrap();
        assert_eq!(last.unix_ms, unix_ms(at(t0, 5_200)));
        assert_eq!(h.points()[0].unix_ms, 1_000_001_000);
        assert_eq!(last.total.requests, sent);
    }

    #[test]
    fn a_short_last_piece_joins_the_second_before() {
        let t0 = UNIX_EPOCH + Duration::from_millis(1_000_000_300);
        let mut h = History::new(t0);
        let sent = steady(t0, &mut h, 2_800);
        h.finish(at(t0, 2_800));
        let p = h.points();
        assert_eq!(p.len(), 3);
        assert!((p[2].rps - 200.0).abs() <= 20.0, "{}", p[2].rps);
        assert_eq!(p[2].total.requests, sent);
    }

    #[test]
    fn a_late_report_adds_to_the_second_it_was_measured_in() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut h = History::new(t0);
        h.add(
            &interval(10),
            Measured {
                start: at(t0, 0),
                end: at(t0, 1_000),
            },
        );
        h.close_until(at(t0, 3_000));
        h.add(
            &interval(30),
            Measured {
                start: at(t0, 1_000),
                end: at(t0, 2_000),
            },
        );
        let p = h.points();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].rps, 10.0);
        assert_eq!(p[1].rps, 30.0);
        assert_eq!(p[1].total.requests, 40);
        assert_eq!(p[2].rps, 0.0);
        assert_eq!(p[2].total.requests, 40);
    }
}
