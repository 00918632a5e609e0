//! Jittered exponential backoff for reconnecting to the master: the delay
//! doubles from `min` up to `max`, each one spread by ±`jitter` so a fleet of
//! workers does not reconnect in lockstep, and never above `max`.

use std::time::Duration;

/// Rejected backoff parameters.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidBackoff {
    /// `min` is zero or above `max`.
    #[error("backoff min must be above zero and at most max")]
    Range,
    /// `jitter` outside 0..=1.
    #[error("backoff jitter must be between 0 and 1")]
    Jitter,
}

/// A capped, jittered exponential backoff.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    jitter: f64,
    attempt: u32,
}

impl Backoff {
    /// # Errors
    ///
    /// `min` of zero or above `max`, or `jitter` outside 0..=1.
    pub fn try_new(min: Duration, max: Duration, jitter: f64) -> Result<Self, InvalidBackoff> {
        if min.is_zero() || min > max {
            return Err(InvalidBackoff::Range);
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(InvalidBackoff::Jitter);
        }
        Ok(Self {
            min,
            max,
            jitter,
            attempt: 0,
        })
    }

    /// The delay before the next attempt, given a random number in 0..1.
    pub fn next_with(&mut self, unit_random: f64) -> Duration {
        let base = self
            .min
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let spread = 1.0 + self.jitter * (2.0 * unit_random.clamp(0.0, 1.0) - 1.0);
        base.mul_f64(spread).min(self.max)
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.next_with(fastrand::f64())
    }

    /// Starts over from `min` (after a successful connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_bad_parameters() {
        let s = Duration::from_secs(1);
        assert_eq!(
            Backoff::try_new(Duration::ZERO, s, 0.1).unwrap_err(),
            InvalidBackoff::Range
        );
        assert_eq!(
            Backoff::try_new(s * 2, s, 0.1).unwrap_err(),
            InvalidBackoff::Range
        );
        assert_eq!(
            Backoff::try_new(s, s, 1.5).unwrap_err(),
            InvalidBackoff::Jitter
        );
    }

    #[test]
    fn doubles_then_caps_and_resets() {
        let mut b =
            Backoff::try_new(Duration::from_millis(100), Duration::from_secs(1), 0.0).unwrap();
        let got: Vec<u128> = (0..6).map(|_| b.next_with(0.5).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_with(0.5), Duration::from_millis(100));
    }

    proptest! {
        #[test]
        fn never_above_max_nor_below_jittered_min(
            min_ms in 1u64..5_000, extra_ms in 0u64..60_000, jitter in 0.0f64..=1.0,
            randoms in prop::collection::vec(0.0f64..=1.0, 1..40)
        ) {
            let (min, max) = (Duration::from_millis(min_ms), Duration::from_millis(min_ms + extra_ms));
            let mut b = Backoff::try_new(min, max, jitter).unwrap();
            for r in randoms {
                let d = b.next_with(r);
                prop_assert!(d <= max);
                prop_assert!(d >= min.mul_f64(1.0 - jitter));
            }
        }
    }
}
