//! The shop's public error type (configuration problems).

/// What can go wrong configuring the shop.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShopError {
    #[error("invalid latency `{input}`: expected a duration like 50ms or a range like 20ms..80ms")]
    InvalidLatency { input: String },
    #[error("invalid latency `{input}`: min {min} is greater than max {max}")]
    LatencyMinAboveMax {
        input: String,
        min: String,
        max: String,
    },
    #[error("invalid error rate {0}: expected a fraction between 0.0 and 1.0")]
    InvalidErrorRate(f64),
    #[error("invalid concurrency 0: expected at least 1 request at once")]
    ZeroConcurrency,
}
