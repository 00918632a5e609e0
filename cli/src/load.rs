//! The load shape of a run from the command line and the scenario: the
//! closed model's `stages` or the open model's arrival rate, each flag
//! checked into a typed shape once.

use stampede_common::scenario::Scenario;
use stampede_common::shape::{ArrivalRate, ArrivalShape, Rate, Stages, StagesError};

use crate::cli::LoadArgs;
use crate::commands::{Failure, usage};

/// The load shape: `--stages`, else the scenario's `stages:` (unless the
/// command line asks for the open model).
pub(crate) fn stages(scenario: &Scenario, load: &LoadArgs) -> Result<Option<Stages>, Failure> {
    match &load.stages {
        Some(text) => {
            Ok(Some(text.parse().map_err(|e: StagesError| {
                usage(format!("--stages: {e}"))
            })?))
        }
        None if load.arrival_rate.is_some() || load.arrival_stages.is_some() => Ok(None),
        None => Ok(scenario.stages.clone()),
    }
}

/// The open model: `--arrival-rate` (for `--run-time`) or `--arrival-stages`
/// with `--max-users`, else the scenario's `arrival_rate:` (unless the command
/// line asks for `--stages`); `--max-users` also overrides the scenario's.
pub(crate) fn arrival(
    scenario: &Scenario,
    load: &LoadArgs,
) -> Result<Option<ArrivalRate>, Failure> {
    let from_file = scenario.arrival.as_ref().filter(|_| load.stages.is_none());
    let shape = match (&load.arrival_rate, &load.arrival_stages) {
        (Some(rate), _) => {
            let rate: Rate = rate
                .parse()
                .map_err(|e| usage(format!("--arrival-rate: {e}")))?;
            let Some(run_time) = load.run_time else {
                return Err(usage(
                    "--arrival-rate needs --run-time (how long to keep the rate)",
                ));
            };
            Some(
                ArrivalShape::constant(rate, run_time)
                    .map_err(|e| usage(format!("--run-time: {e}")))?,
            )
        }
        (None, Some(stages)) => Some(
            stages
                .parse::<ArrivalShape>()
                .map_err(|e| usage(format!("--arrival-stages: {e}")))?,
        ),
        (None, None) => None,
    };
    let max_users = load.max_users.or(from_file.map(|a| a.max_users));
    if max_users == Some(0) {
        return Err(usage("--max-users must be at least 1"));
    }
    match (shape, from_file) {
        (Some(shape), _) => {
            if shape.peak() == Rate::default() {
                return Err(usage(
                    "the arrival rate never starts an iteration (every rate is 0)",
                ));
            }
            let max_users = max_users.ok_or_else(|| {
                usage("the open model needs --max-users: the most virtual users it may start")
            })?;
            Ok(Some(ArrivalRate { shape, max_users }))
        }
        (None, Some(a)) => Ok(Some(ArrivalRate {
            shape: a.shape.clone(),
            max_users: max_users.unwrap_or(a.max_users),
        })),
        (None, None) if load.max_users.is_some() => Err(usage(
            "--max-users applies to the open model: add --arrival-rate or --arrival-stages",
        )),
        (None, None) => Ok(None),
    }
}
