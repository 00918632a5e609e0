//! What a comparison measures: requests/s, failure ratio, average and every
//! reported percentile, each read from a row of each run (percentiles from
//! the exact histogram when the report carries one), and its [`Change`].

use serde::Serialize;

use super::{Noise, Side};

/// The percentiles a report carries: its label and quantile.
pub const QUANTILES: [(&str, f64); 11] = [
    ("p50", 0.50),
    ("p66", 0.66),
    ("p75", 0.75),
    ("p80", 0.80),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p98", 0.98),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
    ("p100", 1.0),
];

/// A compared metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Requests per second over the run.
    Rps,
    /// Failures over requests.
    FailRatio,
    /// Average response time.
    Avg,
    /// A percentile of the response time, by its index in [`QUANTILES`].
    Percentile(usize),
}

/// What a metric is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Requests per second.
    PerSecond,
    /// A ratio (shown in percent, changed in percentage points).
    Ratio,
    /// Milliseconds.
    Ms,
}

impl Metric {
    /// Every metric, in the order reports list them.
    pub fn all() -> impl Iterator<Item = Metric> {
        [Metric::Rps, Metric::FailRatio, Metric::Avg]
            .into_iter()
            .chain((0..QUANTILES.len()).map(Metric::Percentile))
    }

    /// Its name in gates and output.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Rps => "rps",
            Metric::FailRatio => "fail_ratio",
            Metric::Avg => "avg",
            Metric::Percentile(i) => QUANTILES[i].0,
        }
    }

    /// The metric named `s` (`median` is `p50`, `max` is `p100`).
    pub fn parse(s: &str) -> Option<Metric> {
        match s {
            "median" => return Some(Metric::Percentile(0)),
            "max" => return Some(Metric::Percentile(QUANTILES.len() - 1)),
            _ => {}
        }
        Metric::all().find(|m| m.name() == s)
    }

    /// Its unit.
    pub fn unit(self) -> Unit {
        match self {
            Metric::Rps => Unit::PerSecond,
            Metric::FailRatio => Unit::Ratio,
            Metric::Avg | Metric::Percentile(_) => Unit::Ms,
        }
    }

    /// Whether a rise is a regression (all but requests/s).
    pub fn higher_is_worse(self) -> bool {
        self != Metric::Rps
    }

    /// Its value in one run's row.
    pub fn value(self, s: &Side) -> f64 {
        match self {
            Metric::Rps => s.rps,
            Metric::FailRatio if s.requests == 0 => 0.0,
            Metric::FailRatio => s.failures as f64 / s.requests as f64,
            Metric::Avg => s.avg_ms,
            Metric::Percentile(i) => match &s.histogram {
                Some(h) => h.percentile_ms(QUANTILES[i].1),
                None => s.percentiles_ms.get(i).copied().unwrap_or(0.0),
            },
        }
    }
}

/// One metric of one row, in both runs.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Which.
    #[serde(serialize_with = "metric_name")]
    pub metric: Metric,
    /// The base run's value.
    pub base: f64,
    /// The new run's.
    pub new: f64,
    /// The difference is beyond noise ([`Noise`]).
    pub beyond_noise: bool,
}

fn metric_name<S: serde::Serializer>(m: &Metric, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name())
}

impl Change {
    /// New minus base.
    pub fn delta(&self) -> f64 {
        self.new - self.base
    }

    /// The change relative to base (infinite from a base of zero).
    pub fn relative(&self) -> f64 {
        if self.base == 0.0 {
            if self.new == 0.0 {
                0.0
            } else {
                f64::INFINITY.copysign(self.new)
            }
        } else {
            self.delta() / self.base
        }
    }

    /// Moved the bad way (a rise of a time, a fall of requests/s).
    fn worse(&self) -> bool {
        if self.metric.higher_is_worse() {
            self.new > self.base
        } else {
            self.new < self.base
        }
    }

    /// A regression beyond noise: worse, by more than noise.
    pub fn regressed(&self) -> bool {
        self.worse() && self.beyond_noise
    }

    /// An improvement beyond noise: better, by more than noise.
    pub fn improved(&self) -> bool {
        !self.worse() && self.new != self.base && self.beyond_noise
    }
}

/// Every metric's change between two runs' rows.
pub fn changes(base: &Side, new: &Side, noise: &Noise) -> Vec<Change> {
    Metric::all()
        .map(|metric| Change {
            metric,
            base: metric.value(base),
            new: metric.value(new),
            beyond_noise: noise.beyond(metric, base, new),
        })
        .collect()
}
