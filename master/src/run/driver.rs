//! The run driver: what a running [`RunPlan`] needs next, decided tick by
//! tick from the time elapsed and the merged numbers. It ends the run at its
//! length (run time or the shape's end), when a threshold with
//! `abort_on_fail` is lost past its delay, and moves the target users along
//! a `stages` shape. Plain state, written once: the master's actor calls it
//! on its drive tick for headless, web and standalone runs alike, and tests
//! drive it with any clock.

use std::sync::Arc;
use std::time::Duration;

use stampede_common::shape::Stages;
use stampede_common::stats::Snapshot;
use stampede_common::thresholds::{Threshold, evaluate};
use stampede_script::Program;

use super::{LoadModel, RunPlan, StopReason};

/// How often the master's actor asks the driver.
pub const DRIVE_EVERY: Duration = Duration::from_millis(250);

/// What the run needs now.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing.
    Wait,
    /// Move to this many users at this spawn rate.
    SetUsers {
        /// Target users, cluster-wide.
        users: u64,
        /// Users per second.
        spawn_rate: f64,
    },
    /// End the run.
    Stop(StopReason),
}

/// The driving state of one run.
#[derive(Debug, Clone)]
pub struct Driver {
    length: Option<Duration>,
    stages: Option<Stages>,
    /// A load shape as code: the program and its function.
    code: Option<(Arc<Program>, String)>,
    abort_on: Vec<Threshold>,
    /// Users last asked of the cluster by the shape.
    shape_users: Option<u64>,
}

impl Driver {
    /// The driver of `plan`.
    pub fn new(plan: &RunPlan) -> Self {
        Self {
            length: plan.length(),
            stages: match &plan.load {
                LoadModel::Stages(st) => Some(st.clone()),
                _ => None,
            },
            abort_on: plan
                .thresholds
                .iter()
                .filter(|t| t.abort_on_fail)
                .cloned()
                .collect(),
            code: match (&plan.load, &plan.scenario.program) {
                (LoadModel::Code(f), Some(p)) => Some((p.clone(), f.clone())),
                _ => None,
            },
            shape_users: None,
        }
    }

    /// Whether the next [`Driver::step`] at `elapsed` judges thresholds (and
    /// so needs the merged numbers).
    pub fn judges(&self, elapsed: Duration) -> bool {
        self.abort_on.iter().any(|t| elapsed >= t.delay_abort_eval)
    }

    /// What the run needs `elapsed` into it; `snapshot` is the merged numbers
    /// now, given when [`Driver::judges`] said so.
    pub fn step(&mut self, elapsed: Duration, snapshot: Option<&Snapshot>) -> Step {
        if self.length.is_some_and(|l| elapsed >= l) {
            return Step::Stop(StopReason::RunTime);
        }
        if let Some(snap) = snapshot {
            let due: Vec<Threshold> = self
                .abort_on
                .iter()
                .filter(|t| elapsed >= t.delay_abort_eval)
                .cloned()
                .collect();
            if let Some(lost) = evaluate(&due, snap)
                .into_iter()
                .find(|v| !v.passed && v.actual.is_some())
            {
                tracing::warn!(threshold = %lost.threshold, "a threshold with abort_on_fail was lost; stopping the run");
                return Step::Stop(StopReason::ThresholdAborted);
            }
        }
        if let Some((program, function)) = &self.code {
            return match code_shape(program, function, elapsed) {
                Ok(None) => Step::Stop(StopReason::RunTime),
                Ok(Some((users, _))) if self.shape_users == Some(users) => Step::Wait,
                Ok(Some((users, spawn_rate))) => {
                    self.shape_users = Some(users);
                    Step::SetUsers { users, spawn_rate }
                }
                Err(e) => {
                    tracing::error!(shape = %function, "the load shape failed, stopping the run: {e}");
                    Step::Stop(StopReason::ShapeFailed)
                }
            };
        }
        match self.stages.as_ref().and_then(|st| st.command_at(elapsed)) {
            Some((users, spawn_rate)) if self.shape_users != Some(users) => {
                self.shape_users = Some(users);
                Step::SetUsers { users, spawn_rate }
            }
            _ => Step::Wait,
        }
    }
}

/// Calls the shape function with the elapsed seconds: nil ends the run;
/// `{users = n, spawn_rate = r}` or `{n, r}` sets the users (the rate is
/// `n` per second, at once, when left out).
fn code_shape(
    program: &Program,
    function: &str,
    elapsed: Duration,
) -> Result<Option<(u64, f64)>, String> {
    use serde_json::Value as J;
    let out = program
        .call(function, &[elapsed.as_secs_f64()])
        .map_err(|e| e.to_string())?;
    let (users, rate) = match &out {
        J::Null => return Ok(None),
        J::Object(m) => (m.get("users"), m.get("spawn_rate")),
        J::Array(a) => (a.first(), a.get(1)),
        other => {
            return Err(format!(
                "`{function}` returned {other}: expected nil, {{users = n, spawn_rate = r}} or {{n, r}}"
            ));
        }
    };
    let users = users
        .and_then(J::as_f64)
        .filter(|u| u.is_finite() && *u >= 0.0 && *u <= super::MAX_USERS as f64)
        .ok_or_else(|| {
            format!(
                "`{function}` returned {out}: `users` must be a number from 0 to {}",
                super::MAX_USERS
            )
        })?
        .round() as u64;
    let rate = match rate {
        None | Some(J::Null) => users.max(1) as f64,
        Some(r) => r
            .as_f64()
            .filter(|r| r.is_finite() && *r > 0.0)
            .ok_or_else(|| format!("`{function}` returned {out}: `spawn_rate` must be above 0"))?,
    };
    Ok(Some((users, rate)))
}

#[cfg(test)]
mod tests {
    use stampede_common::run::{RunSettings, Target};
    use stampede_common::scenario::ScenarioSource;
    use stampede_common::stats::RunStats;

    use super::*;

    fn plan(load: LoadModel, run_time: Option<Duration>, thresholds: Vec<Threshold>) -> RunPlan {
        let source = ScenarioSource::from_text(
            "s.yaml",
            "users:\n  - name: A\n    sequence:\n      - get: /\n",
        );
        let target: Target = "http://127.0.0.1:1".parse().unwrap();
        RunPlan {
            scenario: Arc::new(source.compile().unwrap()),
            source,
            users: 5,
            spawn_rate: 1.0,
            classes: vec![],
            settings: RunSettings::new(target),
            load,
            run_time,
            thresholds,
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn the_run_time_ends_the_run() {
        let mut d = Driver::new(&plan(LoadModel::Users, Some(secs(10.0)), vec![]));
        assert_eq!(d.step(secs(9.9), None), Step::Wait);
        assert_eq!(d.step(secs(10.0), None), Step::Stop(StopReason::RunTime));
        let mut forever = Driver::new(&plan(LoadModel::Users, None, vec![]));
        assert_eq!(forever.step(secs(1e6), None), Step::Wait);
    }

    #[test]
    fn stages_move_the_users_once_per_change_and_end_the_run() {
        let stages: Stages = "10s:10,10s:10".parse().unwrap();
        let mut d = Driver::new(&plan(LoadModel::Stages(stages), None, vec![]));
        let Step::SetUsers { users, spawn_rate } = d.step(secs(5.0), None) else {
            panic!("the ramp sets users");
        };
        assert_eq!(users, 5);
        assert!(spawn_rate >= 1.0);
        assert_eq!(
            d.step(secs(5.05), None),
            Step::Wait,
            "same target: no command"
        );
        assert!(matches!(
            d.step(secs(12.0), None),
            Step::SetUsers { users: 10, .. }
        ));
        assert_eq!(d.step(secs(15.0), None), Step::Wait);
        assert_eq!(d.step(secs(20.0), None), Step::Stop(StopReason::RunTime));
    }

    #[test]
    fn a_lost_abort_threshold_stops_after_its_delay() {
        let mut abort: Threshold = "fail_ratio<1%".parse().unwrap();
        abort.abort_on_fail = true;
        abort.delay_abort_eval = secs(5.0);
        let judged_at_the_end: Threshold = "p99<1ms".parse().unwrap();
        let p = plan(LoadModel::Users, None, vec![abort, judged_at_the_end]);
        let mut d = Driver::new(&p);
        let mut stats = RunStats::new(std::time::SystemTime::now());
        let recorder = stampede_common::stats::Recorder::new(p.scenario.stat_keys.clone());
        recorder.record(0, 100, 0, Some("boom"));
        let now = std::time::SystemTime::now();
        let measured =
            stampede_common::stats::Measured::before(now, Default::default(), Default::default());
        stats.add(&recorder.take(), measured, now);
        let snap = stats.snapshot(std::time::SystemTime::now());
        assert!(!d.judges(secs(4.0)));
        assert_eq!(d.step(secs(4.0), None), Step::Wait);
        assert!(d.judges(secs(5.0)));
        assert_eq!(
            d.step(secs(5.0), Some(&snap)),
            Step::Stop(StopReason::ThresholdAborted)
        );
    }
}
