//! The worker process's CPU use for its heartbeats: user + system time from
//! `/proc/self/stat` between two readings, as a percentage of one core
//! (0 where /proc is not available).

use std::time::Instant;

/// Clock ticks per second of `/proc` times on Linux.
const TICKS_PER_SEC: f64 = 100.0;

/// Successive readings of this process's CPU time.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    last: Option<(Instant, u64)>,
}

fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

impl CpuMeter {
    pub(crate) fn new() -> Self {
        Self {
            last: cpu_ticks().map(|t| (Instant::now(), t)),
        }
    }

    /// Percent of one core used since the previous call.
    pub(crate) fn sample(&mut self) -> f32 {
        let Some(now_ticks) = cpu_ticks() else {
            return 0.0;
        };
        let now = Instant::now();
        let pct = match self.last {
            Some((then, ticks)) => {
                let secs = now.duration_since(then).as_secs_f64();
                if secs > 0.0 {
                    (now_ticks.saturating_sub(ticks) as f64 / TICKS_PER_SEC / secs * 100.0) as f32
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.last = Some((now, now_ticks));
        pct
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_shows_up() {
        let mut m = CpuMeter::new();
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 200 {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let pct = m.sample();
        if cpu_ticks().is_some() {
            assert!(pct > 0.0, "spinning for 200 ms used no cpu: {pct}");
        }
    }
}
