//! Pass/fail criteria on the merged global numbers, written as in k6:
//! `avg<1s`, `p95<2s`, `fail_ratio<5%`, `rps>100`, and per endpoint
//! `POST /api/orders/: p99<1500ms`. Parsed once ([`Threshold::from_str`]) and
//! judged against a [`Snapshot`] ([`evaluate`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use crate::duration::parse_duration;
use crate::stats::{Snapshot, StatsRow};

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// Average response time.
    Avg,
    /// Fastest response.
    Min,
    /// Slowest response.
    Max,
    /// A percentile of response times (0..=100).
    Percentile(f64),
    /// Requests per second over the run.
    Rps,
    /// Failed requests / requests.
    FailRatio,
    /// Failed requests.
    Failures,
    /// Requests.
    Requests,
    /// Iterations completed (the whole run only).
    Iterations,
    /// Open model: iterations due that found no free user (the whole run only).
    DroppedIterations,
}

impl Metric {
    fn is_time(self) -> bool {
        matches!(
            self,
            Metric::Avg | Metric::Min | Metric::Max | Metric::Percentile(_)
        )
    }

    fn unit(self) -> &'static str {
        match self {
            m if m.is_time() => "ms",
            Metric::Rps => "req/s",
            Metric::FailRatio => "%",
            _ => "",
        }
    }

    /// Whether it measures the whole run rather than a row of the table.
    fn is_run_wide(self) -> bool {
        matches!(self, Metric::Iterations | Metric::DroppedIterations)
    }

    fn of(self, row: &StatsRow, snap: &Snapshot) -> f64 {
        match self {
            Metric::Iterations => snap.iterations as f64,
            Metric::DroppedIterations => snap.dropped_iterations as f64,
            Metric::Avg => row.avg_ms,
            Metric::Min => row.min_ms,
            Metric::Max => row.max_ms,
            Metric::Percentile(p) => percentile(row, p),
            Metric::Rps => row.rps,
            Metric::FailRatio => row.fail_ratio() * 100.0,
            Metric::Failures => row.failures as f64,
            Metric::Requests => row.requests as f64,
        }
    }
}

fn percentile(row: &StatsRow, p: f64) -> f64 {
    let q = p / 100.0;
    match crate::stats::PERCENTILES
        .iter()
        .position(|x| (x - q).abs() < 1e-9)
    {
        Some(i) => row.percentiles_ms[i],
        None => f64::NAN,
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        })
    }
}

/// One criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As written.
    pub source: String,
    /// `(method, name)` for an endpoint threshold; the Aggregated row otherwise.
    pub endpoint: Option<(Option<String>, String)>,
    /// What is measured.
    pub metric: Metric,
    /// How it is compared.
    pub op: Op,
    /// The limit, in the metric's unit (ms, %, req/s, count).
    pub limit: f64,
    /// Stop the run as soon as this threshold is lost.
    pub abort_on_fail: bool,
    /// Do not judge for aborting before the run is this old.
    pub delay_abort_eval: Duration,
}

/// A threshold that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid threshold `{source_text}`: {reason}")]
pub struct ThresholdError {
    source_text: String,
    reason: String,
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ThresholdError {
            source_text: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (endpoint, expr) = match s.rsplit_once(": ") {
            Some((ep, expr)) => (Some(ep.trim()), expr.trim()),
            None => (None, s.trim()),
        };
        let endpoint = match endpoint {
            Some("") => return Err(err("empty endpoint before `:`")),
            Some(ep) => Some(match ep.split_once(' ') {
                Some((m, name)) if METHODS.contains(&m) => {
                    (Some(m.to_owned()), name.trim().to_owned())
                }
                _ => (None, ep.to_owned()),
            }),
            None => None,
        };
        let at = expr
            .find(['<', '>'])
            .ok_or_else(|| err("expected a comparison like p95<2s"))?;
        let (metric_text, rest) = expr.split_at(at);
        let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Op::Lt, v)
        } else {
            (Op::Gt, &rest[1..])
        };
        let metric = parse_metric(metric_text.trim()).ok_or_else(|| {
            err("unknown metric: expected avg, min, max, med, pNN (p50, p95, p99, p99.9, ...), rps, fail_ratio, failures, requests, iterations or dropped_iterations")
        })?;
        if metric.is_run_wide() && endpoint.is_some() {
            return Err(err(
                "iterations and dropped_iterations count the whole run, not one endpoint",
            ));
        }
        let value = value.trim();
        let limit = if metric.is_time() {
            match value.parse::<f64>() {
                Ok(ms) if ms.is_finite() && ms >= 0.0 => ms,
                _ => parse_duration(value).map_err(|e| err(&e))?.as_secs_f64() * 1000.0,
            }
        } else if metric == Metric::FailRatio {
            match value.strip_suffix('%') {
                Some(p) => p
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| err("expected a ratio like 5% or 0.05"))?,
                None => {
                    value
                        .parse::<f64>()
                        .map_err(|_| err("expected a ratio like 5% or 0.05"))?
                        * 100.0
                }
            }
        } else {
            value.parse::<f64>().map_err(|_| err("expected a number"))?
        };
        if !limit.is_finite() {
            return Err(err("the limit is not a finite number"));
        }
        Ok(Threshold {
            source: s.to_owned(),
            endpoint,
            metric,
            op,
            limit,
            abort_on_fail: false,
            delay_abort_eval: Duration::ZERO,
        })
    }
}

fn parse_metric(s: &str) -> Option<Metric> {
    Some(match s {
        "avg" => Metric::Avg,
        "min" => Metric::Min,
        "max" => Metric::Max,
        "med" | "median" => Metric::Percentile(50.0),
        "rps" => Metric::Rps,
        "fail_ratio" => Metric::FailRatio,
        "failures" => Metric::Failures,
        "requests" => Metric::Requests,
        "iterations" => Metric::Iterations,
        "dropped_iterations" => Metric::DroppedIterations,
        p => {
            let n: f64 = p.strip_prefix('p')?.parse().ok()?;
            let known = crate::stats::PERCENTILES
                .iter()
                .any(|q| (q * 100.0 - n).abs() < 1e-9);
            if !known {
                return None;
            }
            Metric::Percentile(n)
        }
    })
}

/// The judgement of one threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The threshold as written.
    pub threshold: String,
    /// The measured value (`None` when the endpoint saw no request).
    pub actual: Option<f64>,
    /// The limit.
    pub limit: f64,
    /// Unit of both.
    pub unit: &'static str,
    /// Whether it holds.
    pub passed: bool,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.passed { "pass" } else { "FAIL" };
        match self.actual {
            Some(a) => write!(
                f,
                "{mark}  {}  (actual {:.2}{})",
                self.threshold, a, self.unit
            ),
            None => write!(f, "{mark}  {}  (no requests)", self.threshold),
        }
    }
}

/// Judges every threshold on `snap`. A threshold on an endpoint that saw no
/// request fails: nothing was shown to hold.
pub fn evaluate(thresholds: &[Threshold], snap: &Snapshot) -> Vec<Verdict> {
    thresholds
        .iter()
        .map(|t| {
            let row = match &t.endpoint {
                None => Some(&snap.total),
                Some((method, name)) => {
                    let rows: Vec<&StatsRow> = snap
                        .rows
                        .iter()
                        .filter(|r| {
                            &r.name == name && method.as_ref().is_none_or(|m| &r.method == m)
                        })
                        .collect();
                    match rows.as_slice() {
                        [] => None,
                        [one] => Some(*one),
                        _ => None,
                    }
                }
            };
            let actual = row
                .filter(|r| r.requests > 0 || !t.metric.is_time())
                .map(|r| t.metric.of(r, snap));
            Verdict {
                threshold: t.source.clone(),
                actual,
                limit: t.limit,
                unit: t.metric.unit(),
                passed: actual.is_some_and(|a| t.op.holds(a, t.limit)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
