//! Load shapes. The closed model: `stages` (k6's ramping-vus, Locust's
//! LoadTestShape) as target users over time with linear ramps, cluster-wide;
//! [`Stages::target_at`] is the schedule arithmetic the master follows. The
//! open model: [`ArrivalRate`] (k6's constant- and ramping-arrival-rate), in
//! [`arrival`].

use std::str::FromStr;
use std::time::Duration;

use crate::duration::parse_duration;

pub mod arrival;

pub use arrival::{ArrivalRate, ArrivalShape, Rate, RateStage};

/// One stage: ramp linearly from the previous target to `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// How long the ramp (or plateau) lasts.
    pub duration: Duration,
    /// Users at the end of the stage.
    pub target: u64,
}

/// A sequence of stages starting from zero users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stages(Vec<Stage>);

/// Stages that do not parse or make no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stages `{text}`: {reason}")]
pub struct StagesError {
    text: String,
    reason: String,
}

impl Stages {
    /// # Errors
    ///
    /// No stage, or a stage of zero duration.
    pub fn new(stages: Vec<Stage>) -> Result<Self, String> {
        if stages.is_empty() {
            return Err("no stage".into());
        }
        if stages.iter().any(|s| s.duration.is_zero()) {
            return Err("a stage lasts zero time".into());
        }
        Ok(Self(stages))
    }

    /// The stages.
    pub fn stages(&self) -> &[Stage] {
        &self.0
    }

    /// Total length of the shape.
    pub fn total(&self) -> Duration {
        self.0.iter().map(|s| s.duration).sum()
    }

    /// The highest target of any stage.
    pub fn peak(&self) -> u64 {
        self.0.iter().map(|s| s.target).max().unwrap_or(0)
    }

    /// Target users `elapsed` into the run (rounded to the nearest user), and
    /// the ramp's slope in users per second; `None` once the shape is over.
    pub fn target_at(&self, elapsed: Duration) -> Option<(u64, f64)> {
        let mut start = Duration::ZERO;
        let mut from = 0u64;
        for s in &self.0 {
            let end = start + s.duration;
            if elapsed < end {
                let frac = (elapsed - start).as_secs_f64() / s.duration.as_secs_f64();
                let users = from as f64 + (s.target as f64 - from as f64) * frac;
                let slope = (s.target as f64 - from as f64) / s.duration.as_secs_f64();
                return Some((users.round() as u64, slope.abs()));
            }
            start = end;
            from = s.target;
        }
        None
    }
}

impl Stages {
    /// What to ask of the cluster `elapsed` into the run: the target users
    /// and a spawn rate twice the ramp's slope (at least 1/s), so workers keep
    /// up between updates; `None` once the shape is over.
    pub fn command_at(&self, elapsed: Duration) -> Option<(u64, f64)> {
        self.target_at(elapsed)
            .map(|(users, slope)| (users, (slope * 2.0).max(1.0)))
    }
}

impl FromStr for Stages {
    type Err = StagesError;

    /// `1m:100,5m:1000,1m:0`: duration:target pairs.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| StagesError {
            text: text.to_owned(),
            reason,
        };
        let mut stages = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (d, t) = part
                .split_once(':')
                .ok_or_else(|| err(format!("`{part}` is not DURATION:USERS, e.g. 1m:100")))?;
            let duration = parse_duration(d).map_err(&err)?;
            let target = t
                .trim()
                .parse::<u64>()
                .map_err(|_| err(format!("`{t}` is not a number of users")))?;
            stages.push(Stage { duration, target });
        }
        Stages::new(stages).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Stages {
        text.parse().unwrap()
    }

    #[test]
    fn linear_ramps_and_plateaus() {
        let st = s("10s:100,20s:100,10s:0");
        let at = |secs: f64| st.target_at(Duration::from_secs_f64(secs)).map(|(u, _)| u);
        assert_eq!(at(0.0), Some(0));
        assert_eq!(at(2.5), Some(25));
        assert_eq!(at(9.99), Some(100));
        assert_eq!(at(10.0), Some(100));
        assert_eq!(at(29.9), Some(100));
        assert_eq!(at(35.0), Some(50));
        assert_eq!(at(40.0), None);
        assert_eq!(st.total(), Duration::from_secs(40));
        assert_eq!(st.peak(), 100);
        let (_, slope) = st.target_at(Duration::from_secs(1)).unwrap();
        assert!((slope - 10.0).abs() < 1e-9);
        let (_, flat) = st.target_at(Duration::from_secs(15)).unwrap();
        assert_eq!(flat, 0.0);
    }

    #[test]
    fn stage_edges_step_exactly() {
        let st = s("1m:100,5m:1000,1m:0");
        let at = |secs: u64| st.target_at(Duration::from_secs(secs)).unwrap().0;
        assert_eq!(at(60), 100);
        assert_eq!(at(60 + 150), 550);
        assert_eq!(at(360), 1000);
        assert_eq!(at(390), 500);
    }

    #[test]
    fn bad_stages_say_why() {
        let e = |t: &str| t.parse::<Stages>().unwrap_err().to_string();
        assert_eq!(e(""), "invalid stages ``: no stage");
        assert_eq!(
            e("1m"),
            "invalid stages `1m`: `1m` is not DURATION:USERS, e.g. 1m:100"
        );
        assert!(e("soon:10").contains("invalid duration `soon`"));
        assert_eq!(
            e("1m:lots"),
            "invalid stages `1m:lots`: `lots` is not a number of users"
        );
        assert_eq!(
            e("0s:10"),
            "invalid stages `0s:10`: a stage lasts zero time"
        );
    }
}
