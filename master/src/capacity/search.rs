//! Which arrival rate a capacity search tries next: [`Search`], plain state
//! fed each step's verdict. It raises the rate from `start` (doubling, or by
//! a fixed increment) until a step fails or `max` held, then bisects between
//! the highest rate that held and the lowest that failed until the two are
//! within `precision` of each other. No clock and no I/O: the runner
//! (`super::run`) asks, runs the step and tells.

use stampede_common::shape::Rate;

/// How the search moves.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchConfig {
    /// The first rate tried.
    pub start: Rate,
    /// The highest rate ever tried.
    pub max: Rate,
    /// Raise by this much per step instead of doubling; no bisection then
    /// (the answer is as exact as the increment).
    pub increment: Option<Rate>,
    /// Stop bisecting once the failed rate is within this fraction above
    /// the held one (0.05: 5%).
    pub precision: f64,
}

/// What a step is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Raising the rate until a step fails.
    Ramp,
    /// Narrowing between the rate that held and the one that failed.
    Bisect,
}

impl Phase {
    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Ramp => "ramp",
            Phase::Bisect => "bisect",
        }
    }
}

/// Why a search is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The bracket between held and failed is within the precision (or the
    /// increment).
    Found,
    /// The highest rate allowed held.
    MaxRateHeld,
    /// Even the first rate failed.
    StartFailed,
    /// The run time was up before the search was done.
    RunTime,
    /// Stopped by a signal.
    Interrupted,
}

impl End {
    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            End::Found => "found",
            End::MaxRateHeld => "max_rate_held",
            End::StartFailed => "start_rate_failed",
            End::RunTime => "run_time",
            End::Interrupted => "interrupted",
        }
    }
}

/// The state of one search.
#[derive(Debug, Clone)]
pub struct Search {
    cfg: SearchConfig,
    held: Option<Rate>,
    failed: Option<Rate>,
}

impl Search {
    /// A search that has tried nothing yet. `start` above `max` is taken as
    /// `max`.
    pub fn new(mut cfg: SearchConfig) -> Self {
        cfg.start = cfg.start.min(cfg.max);
        Self {
            cfg,
            held: None,
            failed: None,
        }
    }

    /// The highest rate that held so far.
    pub fn held(&self) -> Option<Rate> {
        self.held
    }

    /// The lowest rate that failed so far.
    pub fn failed(&self) -> Option<Rate> {
        self.failed
    }

    /// The next rate to try and why, or why the search is over.
    pub fn next(&self) -> Result<(Rate, Phase), End> {
        let c = &self.cfg;
        match (self.held, self.failed) {
            (None, None) => Ok((c.start, Phase::Ramp)),
            (None, Some(_)) => Err(End::StartFailed),
            (Some(h), None) if h >= c.max => Err(End::MaxRateHeld),
            (Some(h), None) => {
                let up = match c.increment {
                    Some(inc) => h.milli().saturating_add(inc.milli().max(1)),
                    None => h.milli().saturating_mul(2).max(h.milli() + 1),
                };
                Ok((Rate::from_milli(up.min(c.max.milli())), Phase::Ramp))
            }
            (Some(h), Some(f)) => {
                let (lo, hi) = (h.milli(), f.milli().max(h.milli()));
                let close = (hi - lo) as f64 <= lo as f64 * c.precision;
                let mid = lo + (hi - lo) / 2;
                if c.increment.is_some() || close || mid == lo {
                    Err(End::Found)
                } else {
                    Ok((Rate::from_milli(round_rate(mid, lo, hi)), Phase::Bisect))
                }
            }
        }
    }

    /// Takes the verdict of a step at `rate`.
    pub fn record(&mut self, rate: Rate, held: bool) {
        if held {
            self.held = Some(self.held.map_or(rate, |h| h.max(rate)));
        } else {
            self.failed = Some(self.failed.map_or(rate, |f| f.min(rate)));
        }
    }
}

/// `mid` rounded to 3 significant digits of a whole rate when that stays
/// strictly inside `(lo, hi)`, for rates a reader can repeat.
fn round_rate(mid: u64, lo: u64, hi: u64) -> u64 {
    let mut unit = 1000u64;
    while mid / unit >= 1000 {
        unit *= 10;
    }
    let rounded = (mid + unit / 2) / unit * unit;
    if rounded > lo && rounded < hi {
        rounded
    } else {
        mid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_s: u64) -> Rate {
        Rate::from_milli(per_s * 1000)
    }

    fn cfg(start: u64, max: u64) -> SearchConfig {
        SearchConfig {
            start: rate(start),
            max: rate(max),
            increment: None,
            precision: 0.05,
        }
    }

    /// Runs a search against a target that holds every rate up to
    /// `capacity` (per second); the rates tried and how it ended.
    fn against(cfg: SearchConfig, capacity: f64) -> (Vec<(f64, Phase)>, End, Option<Rate>) {
        let mut s = Search::new(cfg);
        let mut tried = Vec::new();
        loop {
            match s.next() {
                Ok((r, phase)) => {
                    tried.push((r.per_second(), phase));
                    s.record(r, r.per_second() <= capacity);
                    assert!(tried.len() < 100, "the search never ends: {tried:?}");
                }
                Err(end) => return (tried, end, s.held()),
            }
        }
    }

    #[test]
    fn it_doubles_then_bisects_to_within_the_precision() {
        let (tried, end, held) = against(cfg(25, 1000), 200.0);
        assert_eq!(end, End::Found);
        let ramp: Vec<f64> = tried
            .iter()
            .filter(|(_, p)| *p == Phase::Ramp)
            .map(|(r, _)| *r)
            .collect();
        assert_eq!(ramp, [25.0, 50.0, 100.0, 200.0, 400.0]);
        let held = held.unwrap().per_second();
        let failed = tried
            .iter()
            .map(|(r, _)| *r)
            .filter(|r| *r > 200.0)
            .fold(f64::INFINITY, f64::min);
        assert!((190.0..=200.0).contains(&held), "{held} {tried:?}");
        assert!(failed - held <= held * 0.05, "{held}..{failed}");
        assert!(tried.len() <= 12, "{tried:?}");
    }

    #[test]
    fn every_capacity_is_found_within_the_precision() {
        for capacity in [1.0, 7.5, 33.0, 99.9, 100.0, 101.0, 640.0, 999.0] {
            let (tried, end, held) = against(cfg(1, 1000), capacity);
            assert_eq!(end, End::Found, "{capacity}: {tried:?}");
            let held = held.unwrap().per_second();
            assert!(
                held <= capacity && held >= capacity * 0.95 - 0.001,
                "{capacity}: {held}"
            );
        }
    }

    #[test]
    fn bisected_rates_are_round_when_they_can_be() {
        let (tried, _, _) = against(cfg(100, 10_000), 1234.0);
        for (r, phase) in &tried {
            if *phase == Phase::Bisect {
                let digits = r.to_string().trim_end_matches('0').len();
                assert!(digits <= 4, "{r} in {tried:?}");
            }
        }
    }

    #[test]
    fn the_ends_of_the_range() {
        let (tried, end, held) = against(cfg(100, 300), 1e9);
        assert_eq!(end, End::MaxRateHeld);
        assert_eq!(
            tried.last().unwrap().0,
            300.0,
            "the max is tried: {tried:?}"
        );
        assert_eq!(held, Some(rate(300)));
        let (tried, end, held) = against(cfg(100, 300), 50.0);
        assert_eq!((tried.len(), end, held), (1, End::StartFailed, None));
        let (tried, _, _) = against(cfg(500, 300), 1e9);
        assert_eq!(tried[0].0, 300.0, "start is capped by max");
    }

    #[test]
    fn a_fixed_increment_steps_linearly_and_never_bisects() {
        let mut c = cfg(50, 1000);
        c.increment = Some(rate(50));
        let (tried, end, held) = against(c, 220.0);
        let rates: Vec<f64> = tried.iter().map(|(r, _)| *r).collect();
        assert_eq!(rates, [50.0, 100.0, 150.0, 200.0, 250.0]);
        assert_eq!((end, held), (End::Found, Some(rate(200))));
    }

    #[test]
    fn a_flaky_step_never_makes_it_loop() {
        // Verdicts that contradict each other (a rate fails, a higher one
        // holds) still end the search, with held below failed or equal.
        let mut s = Search::new(cfg(10, 1000));
        let mut n = 0;
        while let Ok((r, _)) = s.next() {
            s.record(r, fastrand::bool());
            n += 1;
            assert!(n < 100);
        }
    }
}
