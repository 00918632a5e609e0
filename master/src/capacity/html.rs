//! The capacity search's HTML page (in progress).

use super::CapacityReport;

/// The page.
pub fn render(r: &CapacityReport) -> String {
    format!("<p>{}</p>", r.verdict())
}
