//! Every conversion between the wire's generated types and the domain's, in
//! both directions, so prost types stay at the edge: run settings, scenarios,
//! user assignments and arrival shares ([`run`]), and interval statistics
//! ([`stats`]). What comes off the wire is validated here: a message that
//! does not make sense is a [`ConvertError`], never a panic further in.

mod run;
mod stats;

pub use run::{assignment_from_wire, assignment_to_wire, scenario_from_wire, scenario_to_wire};
pub use stats::{decode_interval, encode_interval};

/// A wire message that does not make a valid domain value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConvertError {
    /// A required field is missing.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// The target host is not an http(s) URL.
    #[error(transparent)]
    Target(#[from] stampede_common::run::TargetError),
    /// The request timeout is zero.
    #[error("the request timeout must be above zero")]
    ZeroTimeout,
    /// A user slot or arrival share names a class the scenario does not have.
    #[error("the assignment names user class {class}, but the scenario has {classes}")]
    UnknownClass {
        /// The class index sent.
        class: usize,
        /// Classes of the scenario.
        classes: usize,
    },
    /// The spawn rate is not a number.
    #[error("invalid spawn rate {0}")]
    SpawnRate(f64),
    /// The arrival shape does not make a schedule.
    #[error("arrival shape: {0}")]
    Shape(String),
}
