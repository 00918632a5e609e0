//! Latency and count statistics. Workers record into a [`Recorder`] and hand
//! over one [`IntervalStats`] per reporting interval; the master merges them
//! into [`RunStats`]: totals, failures and a per-second history bucketed by
//! when the numbers were measured. Latency is
//! always an HDR histogram in microseconds (3 significant digits), never a list
//! of samples, so memory stays flat and merged percentiles are exact.

mod aggregate;
mod cap;
mod downsample;
mod endpoint;
mod history;
mod layout;
mod persist;
mod recorder;
pub mod table;
pub(crate) mod wire;

use serde::{Deserialize, Serialize};

pub use aggregate::{CLOSE_AFTER, FailureEntry, RunStats, Snapshot, StatsRow, unix_ms};
pub use cap::{Capped, MAX_ERRORS, MAX_NAMES, MAX_TEXT, OTHER_ERRORS, OTHER_NAMES};
pub use endpoint::EndpointStats;
pub use history::{Cumulative, EndpointPoint, HistoryPoint, Load, Measured};
pub use layout::{HistogramError, MAX_MICROS};
pub use persist::SavedStats;
pub use recorder::{IntervalStats, MAX_NAMED, Recorder};

/// Locust's reported percentiles (console and CSV).
pub const PERCENTILES: [f64; 11] = [
    0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

/// Column labels of [`PERCENTILES`], as Locust writes them.
pub const PERCENTILE_LABELS: [&str; 11] = [
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
];

/// What stats are grouped by: the request method and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StatsKey {
    /// Ordered by name first, as Locust sorts its table.
    pub name: String,
    /// `GET`, `POST`, ...
    pub method: String,
}

/// The method of a `group:` row: its time is the group's, and it is not a
/// request, so the Aggregated row leaves it out.
pub const GROUP_METHOD: &str = "GROUP";

impl StatsKey {
    /// Whether this row times a `group:` rather than a request.
    pub fn is_group(&self) -> bool {
        self.method == GROUP_METHOD
    }

    /// A key from method and name.
    pub fn new(method: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            name: name.into(),
        }
    }
}

/// Failures are grouped by endpoint and error message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FailureKey {
    /// The endpoint.
    pub key: StatsKey,
    /// The error message.
    pub error: String,
}
