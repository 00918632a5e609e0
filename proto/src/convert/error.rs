//! [`ConvertError`]: a wire message that does not make a valid domain value.

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
    /// A host override or source address does not parse.
    #[error("network settings: {0}")]
    Network(String),
}
