//! `stampede compare BASE.json NEW.json`: reads both reports, compares them
//! (`stampede_master::compare`), prints the table, writes `--json`,
//! `--markdown`, `--junit` and `--html`, and exits 1 when a gate fails, 2 on
//! bad input.

use std::process::ExitCode;

use stampede_master::compare::{Comparison, Gate, Noise, Run, html, render};
use stampede_master::report::junit::{self, TestCase};

use crate::args::CompareArgs;
use crate::exit::{EXIT_THRESHOLD, Failure, io, usage};

/// Compares the two runs.
///
/// # Errors
///
/// A report that cannot be read, runs of different scenarios, a bad gate or
/// noise setting (exit 2), or an output file that cannot be written.
pub fn compare(args: &CompareArgs) -> Result<ExitCode, Failure> {
    if !(args.noise.is_finite() && args.noise >= 0.0) {
        return Err(usage(format!(
            "--noise: expected a percentage of 0 or more, got {}",
            args.noise
        )));
    }
    let gates = args
        .fail_if
        .iter()
        .map(|g| g.parse::<Gate>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(e.to_string()))?;
    let base = Run::read(&args.base).map_err(|e| usage(e.to_string()))?;
    let new = Run::read(&args.new).map_err(|e| usage(e.to_string()))?;
    let noise = Noise {
        margin: args.noise / 100.0,
        min_samples: args.min_samples,
    };
    let c = Comparison::new(&base, &new, &gates, noise).map_err(|e| usage(e.to_string()))?;
    if base.total.histogram.is_none() || new.total.histogram.is_none() {
        eprintln!(
            "note: a report without histograms (schema stampede-report/1): percentiles are judged by the noise margin alone"
        );
    }
    print!("{}", render::table(&c));
    let write = |path: &std::path::Path, text: String| {
        std::fs::write(path, text)
            .map_err(|e| usage(io(&format!("cannot write {}", path.display()), &e)))
    };
    if let Some(path) = &args.json {
        write(path, render::json_text(&c))?;
    }
    if let Some(path) = &args.markdown {
        write(path, render::markdown(&c))?;
    }
    if let Some(path) = &args.junit {
        let cases: Vec<TestCase> = c.gates.iter().map(TestCase::from).collect();
        write(path, junit::render("gates", &c.scenario, 0.0, &cases))?;
    }
    if let Some(path) = &args.html {
        write(path, html::render_html(&c, &base, &new))?;
    }
    Ok(if c.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_THRESHOLD)
    })
}
