//! The flags of `stampede compare`.

use clap::Args;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The base run's JSON report (`--json` of run or master).
    #[arg(value_name = "BASE.json")]
    pub base: String,
    /// The new run's JSON report.
    #[arg(value_name = "NEW.json")]
    pub new: String,
    /// Fail (exit 1) on this regression, beyond noise: `[METHOD NAME: ]METRIC:±LIMIT`,
    /// as `p95:+10%`, `POST /api/orders/: p99:+50ms`, `rps:-5%`, `fail_ratio:+1pp`.
    #[arg(long = "fail-if", value_name = "GATE")]
    pub fail_if: Vec<String>,
    /// Smallest relative change that counts, in percent: what repeated runs of
    /// one build differ by.
    #[arg(long, value_name = "PERCENT", default_value_t = 10.0)]
    pub noise: f64,
    /// Fewest requests a row needs in each run to be judged.
    #[arg(long = "min-samples", value_name = "N", default_value_t = 100)]
    pub min_samples: u64,
    /// Also write the comparison as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Also write it as Markdown (for a CI job's summary page; `--summary-md`
    /// as for run and master).
    #[arg(long, value_name = "FILE", visible_alias = "summary-md")]
    pub markdown: Option<std::path::PathBuf>,
    /// Also write the gates as JUnit XML (a test case each).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    /// Also write a self-contained HTML page: both runs' percentile curves
    /// and bars per endpoint, the gates (opens offline).
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
}
