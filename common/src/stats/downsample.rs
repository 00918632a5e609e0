//! Keeps a long run's history in bounded memory: the last [`EXACT`] points
//! stay as they are (a second each); once there are more than [`MAX_POINTS`]
//! in all, the two adjacent older points that cover the least time (the
//! oldest of them first) are merged into one, again and again, so older
//! stretches of the run are kept at ever coarser steps. A merged point's
//! rates are the average over its whole length, its percentiles the larger
//! of the two (a spike stays visible), its users and totals the later one's.
//! The run's totals are kept apart and stay exact.

use super::history::{EndpointPoint, HistoryPoint};

/// The newest points, never merged: half an hour of seconds.
pub(super) const EXACT: usize = 1800;
/// Points kept in all.
pub(super) const MAX_POINTS: usize = 3600;

/// Merges older points while there are more than [`MAX_POINTS`]; `start_ms`
/// is where the first point begins.
pub(super) fn downsample(points: &mut Vec<HistoryPoint>, start_ms: i64) {
    while points.len() > MAX_POINTS {
        let older = points.len() - EXACT;
        let begin = |i: usize, p: &[HistoryPoint]| if i == 0 { start_ms } else { p[i - 1].unix_ms };
        let Some(i) = (0..older.saturating_sub(1))
            .min_by_key(|&i| (points[i + 1].unix_ms - begin(i, points), i))
        else {
            return;
        };
        let a_len = (points[i].unix_ms - begin(i, points)).max(1) as f64;
        let b_len = (points[i + 1].unix_ms - points[i].unix_ms).max(1) as f64;
        let a = points.remove(i);
        merge_into(&mut points[i], &a, a_len, b_len);
    }
}

/// `b` (the later point, of length `b_len`) takes in `a` (of `a_len`).
fn merge_into(b: &mut HistoryPoint, a: &HistoryPoint, a_len: f64, b_len: f64) {
    let avg = |x: f64, y: f64| (x * a_len + y * b_len) / (a_len + b_len);
    b.rps = avg(a.rps, b.rps);
    b.fail_per_s = avg(a.fail_per_s, b.fail_per_s);
    b.iterations_per_s = avg(a.iterations_per_s, b.iterations_per_s);
    b.dropped_per_s = avg(a.dropped_per_s, b.dropped_per_s);
    let weight = |p: &HistoryPoint, len: f64| p.rps * len;
    let (wa, wb) = (weight(a, a_len), weight(b, b_len));
    if wa + wb > 0.0 {
        b.avg_ms = (a.avg_ms * wa + b.avg_ms * wb) / (wa + wb);
    }
    larger(&mut b.percentiles_ms, &a.percentiles_ms);
    for ea in &a.endpoints {
        match b.endpoints.iter_mut().find(|e| e.key == ea.key) {
            Some(eb) => {
                let n = eb.requests + ea.requests;
                if n > 0 {
                    eb.avg_ms = (eb.avg_ms * eb.requests as f64 + ea.avg_ms * ea.requests as f64)
                        / n as f64;
                }
                eb.requests = n;
                eb.failures += ea.failures;
                larger(&mut eb.percentiles_ms, &ea.percentiles_ms);
            }
            None => b.endpoints.push(EndpointPoint {
                total: ea.total.clone(),
                ..ea.clone()
            }),
        }
    }
}

fn larger(into: &mut [f64], other: &[f64]) {
    for (x, y) in into.iter_mut().zip(other) {
        *x = x.max(*y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::history::Cumulative;

    fn point(unix_ms: i64, rps: f64) -> HistoryPoint {
        let total = Cumulative {
            requests: 0,
            failures: 0,
            median_ms: 0.0,
            avg_ms: 0.0,
            min_ms: 0.0,
            max_ms: 0.0,
            avg_content: 0.0,
        };
        HistoryPoint {
            unix_ms,
            users: 1,
            target_users: 1,
            target_rate: None,
            iterations_per_s: 0.0,
            dropped_per_s: 0.0,
            rps,
            fail_per_s: 0.0,
            percentiles_ms: vec![rps],
            avg_ms: 1.0,
            total,
            endpoints: Vec::new(),
        }
    }

    #[test]
    fn a_long_history_stays_bounded_recent_seconds_exact_rates_kept() {
        let mut points = Vec::new();
        // Ten hours of seconds at 100 requests a second, one spike early on.
        for s in 1..=36_000i64 {
            let rps = if s == 500 { 5_000.0 } else { 100.0 };
            points.push(point(s * 1000, rps));
            downsample(&mut points, 0);
        }
        assert_eq!(points.len(), MAX_POINTS);
        let recent = &points[points.len() - EXACT..];
        assert!(
            recent
                .windows(2)
                .all(|w| w[1].unix_ms - w[0].unix_ms == 1000)
        );
        assert_eq!(points.last().unwrap().unix_ms, 36_000_000);
        // The requests the points stand for are the requests there were.
        let mut start = 0;
        let mut requests = 0.0;
        for p in &points {
            requests += p.rps * (p.unix_ms - start) as f64 / 1000.0;
            start = p.unix_ms;
        }
        let want = 100.0 * 35_999.0 + 5_000.0;
        assert!(
            (requests - want).abs() < 1e-6 * want,
            "{requests} vs {want}"
        );
        // The spike still shows in the percentiles of the point that holds it.
        assert!(points.iter().any(|p| p.percentiles_ms[0] == 5_000.0));
    }
}
