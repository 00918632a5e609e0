//! The open model's schedule (k6's constant- and ramping-arrival-rate):
//! iterations per second over time with linear ramps, the exact time of the
//! k-th iteration, and exact integer splits of the rate over workers and user
//! classes. Rates are kept in milli-iterations per second, so a split's parts
//! add up to the whole at every moment.

use std::str::FromStr;
use std::time::Duration;

use crate::duration::parse_duration;

/// Iterations per second, in thousandths (so `0.5/s` and `30/m` are exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Rate(u64);

impl Rate {
    /// A rate of `milli` thousandths of an iteration per second.
    pub const fn from_milli(milli: u64) -> Self {
        Self(milli)
    }

    /// Thousandths of an iteration per second.
    pub const fn milli(self) -> u64 {
        self.0
    }

    /// Iterations per second.
    pub fn per_second(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}/s", self.0 / 1000)
        } else {
            write!(f, "{}/s", self.per_second())
        }
    }
}

impl FromStr for Rate {
    type Err = String;

    /// `500/s`, `30/m`, `2/h`, `0.5/s`, or a bare number of iterations per second.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid rate `{text}`: expected iterations per time unit, e.g. 500/s or 30/m")
        };
        let t = text.trim();
        let (count, unit) = t.split_once('/').unwrap_or((t, "s"));
        let count: f64 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" | "1s" => 1.0,
            "m" | "1m" => 60.0,
            "h" | "1h" => 3600.0,
            other => parse_duration(other).map_err(|_| bad())?.as_secs_f64(),
        };
        if !count.is_finite() || count < 0.0 || per <= 0.0 {
            return Err(bad());
        }
        let milli = (count * 1000.0 / per).round();
        if milli > 1e15 {
            return Err(format!("invalid rate `{text}`: too high"));
        }
        Ok(Self(milli as u64))
    }
}

/// One stage: ramp linearly from the previous rate to `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStage {
    /// How long the ramp (or plateau) lasts.
    pub duration: Duration,
    /// The rate at the end of the stage.
    pub target: Rate,
}

/// An arrival-rate shape: the rate starts at `start` and follows the stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrivalShape {
    start: Rate,
    stages: Vec<RateStage>,
}

impl ArrivalShape {
    /// # Errors
    ///
    /// No stage, or a stage of zero duration.
    pub fn new(start: Rate, stages: Vec<RateStage>) -> Result<Self, String> {
        if stages.is_empty() {
            return Err("no stage".into());
        }
        if stages.iter().any(|s| s.duration.is_zero()) {
            return Err("a stage lasts zero time".into());
        }
        Ok(Self { start, stages })
    }

    /// `rate` for `duration` (k6's constant-arrival-rate).
    ///
    /// # Errors
    ///
    /// A zero duration.
    pub fn constant(rate: Rate, duration: Duration) -> Result<Self, String> {
        Self::new(
            rate,
            vec![RateStage {
                duration,
                target: rate,
            }],
        )
    }

    /// The rate at the start.
    pub fn start(&self) -> Rate {
        self.start
    }

    /// The stages.
    pub fn stages(&self) -> &[RateStage] {
        &self.stages
    }

    /// Total length of the shape.
    pub fn total(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The highest rate of the shape.
    pub fn peak(&self) -> Rate {
        self.stages
            .iter()
            .map(|s| s.target)
            .chain([self.start])
            .max()
            .unwrap_or_default()
    }

    /// Stages with their start time, start rate and end rate (per second).
    fn segments(&self) -> impl Iterator<Item = (Duration, f64, &RateStage)> {
        let mut at = Duration::ZERO;
        let mut from = self.start;
        self.stages.iter().map(move |s| {
            let seg = (at, from.per_second(), s);
            at += s.duration;
            from = s.target;
            seg
        })
    }

    /// Iterations per second `elapsed` into the shape; `None` once it is over.
    pub fn rate_at(&self, elapsed: Duration) -> Option<f64> {
        self.segments().find_map(|(at, r0, s)| {
            let end = at + s.duration;
            (elapsed < end).then(|| {
                let frac = (elapsed - at).as_secs_f64() / s.duration.as_secs_f64();
                r0 + (s.target.per_second() - r0) * frac
            })
        })
    }

    /// Iterations due in `[0, elapsed)`: the integral of the rate (fractional).
    pub fn iterations_by(&self, elapsed: Duration) -> f64 {
        let mut sum = 0.0;
        for (at, r0, s) in self.segments() {
            let d = s.duration.as_secs_f64();
            let r1 = s.target.per_second();
            if elapsed >= at + s.duration {
                sum += (r0 + r1) / 2.0 * d;
                continue;
            }
            let t = elapsed.saturating_sub(at).as_secs_f64();
            sum += r0 * t + (r1 - r0) / d * t * t / 2.0;
            break;
        }
        sum
    }

    /// When iteration `k` (counting from 0) is due: the first moment at which
    /// [`iterations_by`](Self::iterations_by) reaches `k`; `None` when the
    /// shape ends first.
    pub fn time_of(&self, k: u64) -> Option<Duration> {
        let k = k as f64;
        let mut before = 0.0;
        for (at, r0, s) in self.segments() {
            let d = s.duration.as_secs_f64();
            let r1 = s.target.per_second();
            let area = (r0 + r1) / 2.0 * d;
            let need = k - before;
            if need <= 0.0 {
                return Some(at);
            }
            if need < area {
                // r0*t + b*t²/2 = need, b = (r1 - r0)/d, solved in the form that
                // stays exact when b is zero or tiny.
                let b = (r1 - r0) / d;
                let disc = (r0 * r0 + 2.0 * b * need).max(0.0);
                let t = 2.0 * need / (r0 + disc.sqrt());
                return Some(at + Duration::from_secs_f64(t.clamp(0.0, d)));
            }
            before += area;
        }
        None
    }

    /// The index of the first iteration due at or after `elapsed`.
    pub fn first_at_or_after(&self, elapsed: Duration) -> u64 {
        let k = self.iterations_by(elapsed);
        // Guard against the integral landing a hair past an integer.
        let mut n = (k - 1e-9).ceil().max(0.0) as u64;
        while self.time_of(n).is_some_and(|t| t < elapsed) {
            n += 1;
        }
        n
    }

    /// Splits the shape into parts with these weights: every rate of the
    /// shape is split into whole thousandths by largest remainders, so the
    /// parts' rates add up to the shape's at every moment.
    pub fn split_weighted(&self, weights: &[u64]) -> Vec<ArrivalShape> {
        let starts = split_units(self.start.milli(), weights);
        let targets: Vec<Vec<u64>> = self
            .stages
            .iter()
            .map(|s| split_units(s.target.milli(), weights))
            .collect();
        (0..weights.len())
            .map(|i| ArrivalShape {
                start: Rate(starts[i]),
                stages: self
                    .stages
                    .iter()
                    .zip(&targets)
                    .map(|(s, t)| RateStage {
                        duration: s.duration,
                        target: Rate(t[i]),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Splits the shape evenly over `n` parts (remainders to the first parts).
    pub fn split(&self, n: usize) -> Vec<ArrivalShape> {
        self.split_weighted(&vec![1; n.max(1)])
    }
}

/// The open model of a run: iterations start on the shape's schedule, each
/// on an idle virtual user, new users are started up to `max_users`, and an
/// iteration that finds none is dropped and counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrivalRate {
    /// The rate over time.
    pub shape: ArrivalShape,
    /// Most virtual users alive at once, cluster-wide.
    pub max_users: u64,
}

/// Splits `total` whole units by `weights` with largest remainders (ties to
/// the earlier part): the parts add up to `total` exactly. All-zero weights
/// split evenly.
pub fn split_units(total: u64, weights: &[u64]) -> Vec<u64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let even = vec![1u64; weights.len()];
    let weights = if weights.iter().all(|w| *w == 0) {
        &even[..]
    } else {
        weights
    };
    let sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    let mut parts: Vec<u64> = weights
        .iter()
        .map(|w| (u128::from(total) * u128::from(*w) / sum) as u64)
        .collect();
    let mut left = total - parts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| {
        let rem = u128::from(total) * u128::from(weights[i]) % sum;
        (std::cmp::Reverse(rem), i)
    });
    for i in order {
        if left == 0 {
            break;
        }
        if weights[i] > 0 {
            parts[i] += 1;
            left -= 1;
        }
    }
    parts
}

/// An arrival-rate shape parsed from `--arrival-stages`: `30s:100/s,5m:100/s`.
impl FromStr for ArrivalShape {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let err = |reason: String| format!("invalid arrival stages `{text}`: {reason}");
        let mut stages = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (d, r) = part
                .split_once(':')
                .ok_or_else(|| err(format!("`{part}` is not DURATION:RATE, e.g. 1m:500/s")))?;
            stages.push(RateStage {
                duration: parse_duration(d).map_err(&err)?,
                target: r.parse().map_err(&err)?,
            });
        }
        ArrivalShape::new(Rate::default(), stages).map_err(err)
    }
}

#[cfg(test)]
#[path = "arrival_tests.rs"]
mod tests;
