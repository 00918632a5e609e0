//! The histogram layout every worker and the master share (1 µs to one
//! hour, 3 significant digits), and [`HistogramError`]. The recorder
//! (`endpoint`) and the wire decoder (`wire`) both build on it.

/// Largest recordable response time: one hour. Larger values are clamped
/// (and still counted; the exact max is kept separately).
pub const MAX_MICROS: u64 = 3_600_000_000;
pub(crate) const SIGFIG: u8 = 3;

/// A histogram that could not be encoded, decoded or merged.
#[derive(Debug, thiserror::Error)]
#[error("histogram: {0}")]
pub struct HistogramError(pub(crate) String);
