//! Results on disk while a run goes, so that a crash of the master (or of
//! everything) leaves the numbers so far: Locust's CSV files rewritten
//! every [`CSV_EVERY`] (each written beside its place and renamed into it,
//! so a reader never sees half a file), and the history as JSON lines, one
//! object per second of the run appended and flushed as the second closes
//! (seconds close [`stampede_common::stats::CLOSE_AFTER`] after they end).
//! A line once written stays: counts a worker resends for a second already
//! written after an outage are in the final reports, not in its line.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use super::RunReport;
use super::json::Tick;
use crate::cluster::MasterHandle;

/// How often the CSV files are rewritten during a run.
pub const CSV_EVERY: Duration = Duration::from_secs(2);

/// What to keep on disk while a run goes.
#[derive(Debug, Clone, Default)]
pub struct LiveOutputs {
    /// Locust's CSV files under this prefix, and whether the history has
    /// per-endpoint rows.
    pub csv: Option<(String, bool)>,
    /// The JSON-lines history.
    pub history_jsonl: Option<PathBuf>,
}

impl LiveOutputs {
    /// Whether there is anything to write.
    pub fn is_empty(&self) -> bool {
        self.csv.is_none() && self.history_jsonl.is_none()
    }
}

/// Writes [`LiveOutputs`] as the run goes.
pub(crate) struct LiveWriter {
    cfg: LiveOutputs,
    jsonl: Option<File>,
    /// The last history second written, unix ms.
    written_ms: i64,
    csv_due: Instant,
    /// Whether a failure was logged already (once per output).
    warned: [bool; 2],
}

impl LiveWriter {
    /// Creates (or empties) the JSON-lines file.
    ///
    /// # Errors
    ///
    /// The file cannot be created.
    pub(crate) fn open(cfg: LiveOutputs) -> std::io::Result<Self> {
        let jsonl = cfg.history_jsonl.as_deref().map(File::create).transpose()?;
        Ok(Self {
            cfg,
            jsonl,
            written_ms: i64::MIN,
            csv_due: Instant::now() + CSV_EVERY,
            warned: [false; 2],
        })
    }

    /// Appends the seconds closed since the last call and, when due,
    /// rewrites the CSV files.
    pub(crate) async fn tick(&mut self, master: &MasterHandle) {
        if self.jsonl.is_some()
            && let Ok(Some((_, points))) = master.history(self.written_ms).await
        {
            let ticks: Vec<Tick> = points.iter().map(Tick::from).collect();
            self.append(&ticks);
        }
        if self.cfg.csv.is_some() && Instant::now() >= self.csv_due {
            self.csv_due = Instant::now() + CSV_EVERY;
            if let Ok(Some(report)) = master.report().await {
                self.write_csv(&report);
            }
        }
    }

    /// The last seconds of the finished run's history.
    pub(crate) fn finish(&mut self, report: &RunReport) {
        let points = report.stats.history();
        let from = points.partition_point(|p| p.unix_ms <= self.written_ms);
        let ticks: Vec<Tick> = points[from..].iter().map(Tick::from).collect();
        self.append(&ticks);
    }

    fn append(&mut self, ticks: &[Tick]) {
        let Some(file) = self.jsonl.as_mut() else {
            return;
        };
        let Some(last) = ticks.last() else { return };
        let mut text = String::new();
        for t in ticks {
            text.push_str(&serde_json::to_string(t).unwrap_or_default());
            text.push('\n');
        }
        match file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
            Ok(()) => self.written_ms = last.unix_ms,
            Err(e) => {
                if !std::mem::replace(&mut self.warned[0], true) {
                    let path = self.cfg.history_jsonl.as_deref().unwrap_or(Path::new(""));
                    warn!(path = %path.display(), error = %e, "cannot append to the history");
                }
            }
        }
    }

    fn write_csv(&mut self, report: &RunReport) {
        let Some((prefix, full)) = &self.cfg.csv else {
            return;
        };
        if let Err(e) = super::csv::write_all(prefix, report, *full)
            && !std::mem::replace(&mut self.warned[1], true)
        {
            warn!(prefix = %prefix, error = %e, "cannot rewrite the csv files");
        }
    }
}
