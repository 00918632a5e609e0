//! The flags of a capacity search (`--capacity` on `run` and `master`).

use std::time::Duration;

use clap::Args;
use stampede_common::shape::Rate;

use super::values::{arrival_rate, positive_duration};

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// Search the highest arrival rate that holds every threshold: steps of
    /// the open model at one rate each, doubling from --start-rate until one
    /// fails, then bisecting (headless; -t bounds the whole search).
    #[arg(
        long,
        requires_all = ["max_rate", "headless"],
        conflicts_with_all = ["stages", "arrival_rate", "arrival_stages", "csv", "history_jsonl"]
    )]
    pub capacity: bool,
    /// The highest rate the search may try, e.g. 2000/s.
    #[arg(long = "max-rate", value_name = "RATE", value_parser = arrival_rate, requires = "capacity")]
    pub max_rate: Option<Rate>,
    /// The first rate tried [default: --max-rate / 16].
    #[arg(long = "start-rate", value_name = "RATE", value_parser = arrival_rate, requires = "capacity")]
    pub start_rate: Option<Rate>,
    /// How long each step keeps its rate.
    #[arg(long = "step-time", value_name = "DURATION", value_parser = positive_duration, default_value = "10s")]
    pub step_time: Duration,
    /// Raise the rate by this much per step instead of doubling, and do not
    /// bisect (the answer is then as exact as the increment).
    #[arg(long = "rate-increment", value_name = "RATE", value_parser = arrival_rate, requires = "capacity")]
    pub rate_increment: Option<Rate>,
    /// Stop bisecting once the rate that failed is within this many percent
    /// above the one that held.
    #[arg(
        long,
        value_name = "PERCENT",
        default_value_t = 5.0,
        requires = "capacity"
    )]
    pub precision: f64,
    /// Fail (exit 1) when the capacity found is below this rate.
    #[arg(long = "min-capacity", value_name = "RATE", value_parser = arrival_rate, requires = "capacity")]
    pub min_capacity: Option<Rate>,
}
