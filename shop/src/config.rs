//! Shop configuration: injected latency and error rate, and their parsing and validation.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ShopError;

/// How the shop misbehaves on purpose. The default behaves perfectly: no latency, no errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShopConfig {
    /// Delay applied to every `/api/` request before it is answered.
    pub latency: Option<LatencyRange>,
    /// Fraction (0.0..=1.0) of `/api/` requests answered with an injected 500.
    pub error_rate: f64,
    /// Extra delay for requests whose path starts with a prefix (the first
    /// that matches), on top of `latency`: one slow endpoint.
    pub slow: Vec<(String, LatencyRange)>,
    /// Serve at most this many `/api/` requests at once (latency included);
    /// the rest wait their turn, first come first served. With a fixed
    /// latency the shop then has a known capacity: `concurrency / latency`
    /// requests per second.
    pub concurrency: Option<usize>,
}

impl ShopConfig {
    /// Checks that the error rate is a fraction between 0 and 1.
    pub fn validate(&self) -> Result<(), ShopError> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(ShopError::InvalidErrorRate(self.error_rate));
        }
        if self.concurrency == Some(0) {
            return Err(ShopError::ZeroConcurrency);
        }
        Ok(())
    }
}

/// The injected latency, changeable while the shop serves (a test turns the
/// target slow halfway through a run).
#[derive(Debug, Default)]
pub(crate) struct LatencyCell {
    on: std::sync::atomic::AtomicBool,
    min_ns: std::sync::atomic::AtomicU64,
    max_ns: std::sync::atomic::AtomicU64,
}

impl LatencyCell {
    pub(crate) fn set(&self, latency: Option<LatencyRange>) {
        use std::sync::atomic::Ordering::Relaxed;
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        if let Some(l) = latency {
            self.min_ns.store(ns(l.min), Relaxed);
            self.max_ns.store(ns(l.max), Relaxed);
        }
        self.on.store(latency.is_some(), Relaxed);
    }

    pub(crate) fn get(&self) -> Option<LatencyRange> {
        use std::sync::atomic::Ordering::Relaxed;
        self.on.load(Relaxed).then(|| LatencyRange {
            min: Duration::from_nanos(self.min_ns.load(Relaxed)),
            max: Duration::from_nanos(self.max_ns.load(Relaxed)),
        })
    }
}

/// A uniform random delay between `min` and `max` inclusive (equal bounds give a fixed delay).
///
/// Parses from `"50ms"` (fixed) or `"20ms..80ms"` (range), durations in `humantime` syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LatencyRange {
    pub min: Duration,
    pub max: Duration,
}

impl LatencyRange {
    /// A fixed delay.
    pub fn fixed(delay: Duration) -> Self {
        Self {
            min: delay,
            max: delay,
        }
    }

    /// Draws one delay uniformly from the range.
    pub fn sample(&self) -> Duration {
        if self.max <= self.min {
            return self.min;
        }
        let span = u64::try_from((self.max - self.min).as_nanos()).unwrap_or(u64::MAX);
        self.min + Duration::from_nanos(fastrand::u64(0..=span))
    }
}

impl FromStr for LatencyRange {
    type Err = ShopError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = || ShopError::InvalidLatency {
            input: input.to_owned(),
        };
        let parse = |part: &str| {
            let part = part.trim();
            // humantime accepts an empty string as zero in some versions; we do not
            if part.is_empty() {
                return Err(invalid());
            }
            humantime::parse_duration(part).map_err(|_| invalid())
        };
        let (min, max) = match input.split_once("..") {
            Some((min, max)) => (parse(min)?, parse(max)?),
            None => {
                let delay = parse(input)?;
                (delay, delay)
            }
        };
        if min > max {
            return Err(ShopError::LatencyMinAboveMax {
                input: input.to_owned(),
                min: humantime::format_duration(min).to_string(),
                max: humantime::format_duration(max).to_string(),
            });
        }
        Ok(Self { min, max })
    }
}

impl fmt::Display for LatencyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let min = humantime::format_duration(self.min);
        if self.min == self.max {
            write!(f, "{min}")
        } else {
            write!(f, "{min}..{}", humantime::format_duration(self.max))
        }
    }
}

impl Serialize for LatencyRange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LatencyRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_round_trips() {
        for text in ["50ms", "20ms..80ms", "1s..2s"] {
            let range: LatencyRange = text.parse().unwrap();
            assert_eq!(range.to_string(), text);
            assert_eq!(range.to_string().parse::<LatencyRange>().unwrap(), range);
        }
    }

    #[test]
    fn sample_stays_in_range() {
        let range: LatencyRange = "20ms..80ms".parse().unwrap();
        for _ in 0..1000 {
            let d = range.sample();
            assert!(d >= range.min && d <= range.max, "{d:?}");
        }
        assert_eq!(
            LatencyRange::fixed(Duration::from_millis(5)).sample(),
            Duration::from_millis(5)
        );
    }

    #[test]
    fn validate_error_rate() {
        for ok in [0.0, 0.5, 1.0] {
            let cfg = ShopConfig {
                latency: None,
                error_rate: ok,
                ..Default::default()
            };
            assert!(cfg.validate().is_ok());
        }
        for bad in [-0.1, 1.01, f64::NAN] {
            let cfg = ShopConfig {
                latency: None,
                error_rate: bad,
                ..Default::default()
            };
            assert!(cfg.validate().is_err());
        }
    }
}
