//! Gates: `--fail-if '[METHOD NAME: ]METRIC:±LIMIT'`, a regression that fails
//! the comparison. The limit is relative (`+10%`), absolute in the metric's
//! unit (`+50ms`, `+0.2s`, `+1pp` of failure ratio, `-100` requests/s), and
//! signed: `+` fails on a rise past it, `-` on a fall past it. A gate fails
//! only on a change past its limit that is also beyond noise, so two noisy
//! runs of one build do not fail a pipeline by chance.

use serde::Serialize;
use stampede_common::stats::StatsKey;

use super::metric::{Metric, Unit};
use super::{CompareError, RowChange};

/// How far a metric may move.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// A fraction of the base value (`+10%` is 0.10).
    Relative(f64),
    /// In the metric's unit (ms, a ratio, requests/s).
    Absolute(f64),
}

/// One `--fail-if`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// As given.
    pub source: String,
    /// The endpoint, or the Aggregated row.
    pub endpoint: Option<StatsKey>,
    /// What it watches.
    pub metric: Metric,
    /// How far it may move.
    pub limit: Limit,
}

/// A gate's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct GateResult {
    /// The gate as given.
    pub gate: String,
    /// What it watched.
    #[serde(skip)]
    pub metric: Metric,
    /// Its limit is relative (`change` and `limit` are fractions of the
    /// base); otherwise they are in the metric's unit.
    #[serde(skip)]
    pub relative: bool,
    /// It held.
    pub passed: bool,
    /// The base run's value.
    pub base: f64,
    /// The new run's.
    pub new: f64,
    /// The change, in the limit's terms (a fraction, ms, a ratio, req/s).
    pub change: f64,
    /// The limit, in the same terms.
    pub limit: f64,
    /// The change is beyond noise.
    pub beyond_noise: bool,
}

fn bad(gate: &str, message: impl Into<String>) -> CompareError {
    CompareError::Gate {
        gate: gate.to_owned(),
        message: message.into(),
    }
}

impl std::str::FromStr for Gate {
    type Err = CompareError;

    fn from_str(source: &str) -> Result<Self, CompareError> {
        let (head, limit) = source
            .rsplit_once(':')
            .ok_or_else(|| bad(source, "expected [METHOD NAME: ]METRIC:±LIMIT, as p95:+10%"))?;
        let (endpoint, metric) = match head.rsplit_once(':') {
            Some((endpoint, metric)) => {
                let (method, name) = endpoint.trim().split_once(' ').ok_or_else(|| {
                    bad(source, "an endpoint is METHOD NAME, as POST /api/orders/")
                })?;
                (Some(StatsKey::new(method, name.trim())), metric.trim())
            }
            None => (None, head.trim()),
        };
        let metric = Metric::parse(metric).ok_or_else(|| {
            let known: Vec<&str> = Metric::all().map(Metric::name).collect();
            bad(
                source,
                format!("unknown metric `{metric}` (known: {})", known.join(", ")),
            )
        })?;
        let limit = parse_limit(limit.trim(), metric.unit()).map_err(|m| bad(source, m))?;
        Ok(Self {
            source: source.to_owned(),
            endpoint,
            metric,
            limit,
        })
    }
}

fn parse_limit(text: &str, unit: Unit) -> Result<Limit, String> {
    let sign = match text.chars().next() {
        Some('+') => 1.0,
        Some('-') => -1.0,
        _ => {
            return Err(format!(
                "the limit `{text}` needs a sign: + for a rise, - for a fall"
            ));
        }
    };
    let body = &text[1..];
    let split = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(split);
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| format!("the limit `{text}` is not a number"))?;
    let limit = match (suffix, unit) {
        ("%", _) => Limit::Relative(n / 100.0),
        ("ms", Unit::Ms) => Limit::Absolute(n),
        ("s", Unit::Ms) => Limit::Absolute(n * 1000.0),
        ("pp", Unit::Ratio) => Limit::Absolute(n / 100.0),
        ("", Unit::PerSecond) => Limit::Absolute(n),
        _ => {
            let units = match unit {
                Unit::Ms => "%, ms or s",
                Unit::Ratio => "% or pp",
                Unit::PerSecond => "% or a number of requests/s",
            };
            return Err(format!("the limit `{text}` takes {units}"));
        }
    };
    Ok(match limit {
        Limit::Relative(v) => Limit::Relative(sign * v),
        Limit::Absolute(v) => Limit::Absolute(sign * v),
    })
}

impl Gate {
    /// Judges the gate against the compared rows.
    ///
    /// # Errors
    ///
    /// An endpoint that is not in both runs.
    pub fn judge(&self, rows: &[RowChange]) -> Result<GateResult, CompareError> {
        let row = rows
            .iter()
            .find(|r| r.key.as_ref() == self.endpoint.as_ref())
            .ok_or_else(|| {
                let k = self
                    .endpoint
                    .as_ref()
                    .map_or_else(String::new, |k| format!("{} {}", k.method, k.name));
                bad(&self.source, format!("no endpoint `{k}` in both runs"))
            })?;
        let change = row
            .changes
            .iter()
            .find(|c| c.metric == self.metric)
            .expect("every metric is compared");
        let (measured, limit) = match self.limit {
            Limit::Relative(l) => (change.relative(), l),
            Limit::Absolute(l) => (change.delta(), l),
        };
        Ok(GateResult {
            gate: self.source.clone(),
            metric: self.metric,
            relative: matches!(self.limit, Limit::Relative(_)),
            passed: !(past(measured, limit) && change.beyond_noise),
            base: change.base,
            new: change.new,
            change: measured,
            limit,
            beyond_noise: change.beyond_noise,
        })
    }
}

/// A change past a signed limit: above a `+` one, below a `-` one.
fn past(change: f64, limit: f64) -> bool {
    if limit >= 0.0 {
        change > limit
    } else {
        change < limit
    }
}

impl GateResult {
    /// The change is past the limit (beyond noise or not).
    pub fn past_limit(&self) -> bool {
        past(self.change, self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(s: &str) -> Gate {
        s.parse().unwrap()
    }

    #[test]
    fn gates_read_as_the_readme_writes_them() {
        let g = gate("p95:+10%");
        assert_eq!(
            (g.endpoint, g.metric.name(), g.limit),
            (None, "p95", Limit::Relative(0.10))
        );
        let g = gate("POST /api/orders/: p99:+50ms");
        assert_eq!(g.endpoint, Some(StatsKey::new("POST", "/api/orders/")));
        assert_eq!(g.limit, Limit::Absolute(50.0));
        assert_eq!(gate("rps:-5%").limit, Limit::Relative(-0.05));
        assert_eq!(gate("fail_ratio:+1pp").limit, Limit::Absolute(0.01));
        assert_eq!(gate("max:+0.5s").limit, Limit::Absolute(500.0));
        assert_eq!(
            gate("GET /a:b: median:+1ms").endpoint,
            Some(StatsKey::new("GET", "/a:b"))
        );
    }

    #[test]
    fn bad_gates_say_what_is_wrong() {
        for (g, want) in [
            ("p95", "expected [METHOD NAME: ]METRIC:±LIMIT"),
            ("p97:+10%", "unknown metric `p97`"),
            ("p95:10%", "needs a sign"),
            ("p95:+ten%", "is not a number"),
            ("p95:+1pp", "takes %, ms or s"),
            ("fail_ratio:+5ms", "takes % or pp"),
            ("/api: p95:+1ms", "an endpoint is METHOD NAME"),
        ] {
            let e = g.parse::<Gate>().unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("--fail-if `{g}`: ")) && e.contains(want),
                "{e}"
            );
        }
    }
}
