//! A worker's stats report into its run's stats: decoded off the wire
//! (histograms included, any bytes refused cleanly), merged within the run's
//! bounds on names and messages, and a warning the first time a bound is
//! reached, as Locust warns of too many names. The actor merges every
//! report through here, and so does the fuzz target of worker messages.

use std::time::SystemTime;

use stampede_common::stats::{
    Capped, HistogramError, MAX_ERRORS, MAX_NAMES, OTHER_ERRORS, OTHER_NAMES, RunStats,
};
use stampede_proto::convert::{decode_interval, measured_from_wire};
use stampede_proto::v1;
use tracing::warn;

/// Merges `report` (from worker `worker`, received at `now`) into `stats`.
///
/// # Errors
///
/// A report that does not decode; nothing of it is merged.
pub(crate) fn merge_report(
    stats: &mut RunStats,
    worker: &str,
    report: &v1::StatsReport,
    now: SystemTime,
) -> Result<(), HistogramError> {
    let interval = decode_interval(report)?;
    let capped = stats.add(&interval, measured_from_wire(report, now), now);
    warn_capped(worker, capped);
    Ok(())
}

fn warn_capped(worker: &str, capped: Capped) {
    if capped.names {
        warn!(
            worker,
            "the run has over {MAX_NAMES} request names; the rest are counted under `{OTHER_NAMES}` (give requests with varying urls a `name:`)"
        );
    }
    if capped.errors {
        warn!(
            worker,
            "the run has over {MAX_ERRORS} distinct error messages; the rest are counted under `{OTHER_ERRORS}`"
        );
    }
}
