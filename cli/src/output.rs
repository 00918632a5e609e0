//! What a run or a capacity search leaves behind: the summary on stdout (stderr with `--json -`),
//! the report files, and the exit code. Every output path is checked before
//! any load is sent ([`Outputs::check`]); at the end a report that cannot be
//! written does not keep the others from being written.

use stampede_master::capacity::{self, CapacityReport, report::CapacityJson};
use stampede_master::cluster::headless::Watch;
use stampede_master::report::json::JsonReport;
use stampede_master::report::junit::TestCase;
use stampede_master::report::live::LiveOutputs;
use stampede_master::report::{self, RunReport, render_summary};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::args::OutputArgs;
use crate::exit::{EXIT_THRESHOLD, Failure, cannot_run, io, usage};

/// The live table's interval (unless `--only-summary`), and the results
/// kept on disk while the run goes (`--csv`, `--history-jsonl`).
pub fn watch(out: &OutputArgs) -> Watch {
    let print_interval = (!out.only_summary && !out.print_stats_interval.is_zero())
        .then_some(out.print_stats_interval);
    Watch {
        print_interval,
        live: LiveOutputs {
            csv: out.csv.clone().map(|p| (p, out.csv_full_history)),
            history_jsonl: out.history_jsonl.clone(),
        },
    }
}

/// The report files asked for, their places checked.
#[derive(Debug, Clone)]
pub struct Outputs {
    csv: Option<String>,
    csv_full_history: bool,
    json: Option<String>,
    html: Option<String>,
    junit: Option<PathBuf>,
    summary_md: Option<PathBuf>,
    exit_code_on_error: Option<u8>,
}

/// Whether `path` can be written: its directory exists, and it is not a directory.
fn writable(flag: &str, path: &Path) -> Result<(), Failure> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(usage(format!(
            "{flag} {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(usage(format!("{flag} {}: is a directory", path.display())));
    }
    Ok(())
}

impl Outputs {
    /// The outputs of `out`, each checked before any load is sent.
    ///
    /// # Errors
    ///
    /// A report whose directory does not exist, or whose path is a directory.
    pub fn check(out: &OutputArgs) -> Result<Self, Failure> {
        if let Some(prefix) = &out.csv {
            writable("--csv", &PathBuf::from(format!("{prefix}_stats.csv")))?;
        }
        if let Some(path) = &out.history_jsonl {
            writable("--history-jsonl", path)?;
        }
        if let Some(path) = out.json.as_deref().filter(|p| *p != "-") {
            writable("--json", Path::new(path))?;
        }
        if let Some(path) = &out.html {
            writable("--html", Path::new(path))?;
        }
        if let Some(path) = &out.junit {
            writable("--junit", path)?;
        }
        if let Some(path) = &out.summary_md {
            writable("--summary-md", path)?;
        }
        Ok(Self {
            csv: out.csv.clone(),
            csv_full_history: out.csv_full_history,
            json: out.json.clone(),
            html: out.html.clone(),
            junit: out.junit.clone(),
            summary_md: out.summary_md.clone(),
            exit_code_on_error: out.exit_code_on_error,
        })
    }

    /// Prints the summary, writes every report file, and picks the exit
    /// code: 1 when a threshold failed (or, with `--exit-code-on-error`, any
    /// request did).
    ///
    /// # Errors
    ///
    /// A report that could not be written (exit 3, after the others were
    /// written), naming each that failed.
    pub fn finish(&self, report: &RunReport) -> Result<ExitCode, Failure> {
        self.finish_any(Finished::Run(report))?;
        if !report.passed() {
            return Ok(ExitCode::from(EXIT_THRESHOLD));
        }
        match self.exit_code_on_error {
            Some(code)
                if report.snapshot.total.failures > 0 || !report.snapshot.exceptions.is_empty() =>
            {
                Ok(ExitCode::from(code))
            }
            _ => Ok(ExitCode::SUCCESS),
        }
    }

    /// Prints a capacity search's summary, writes its files (`--json` the
    /// `stampede-capacity/1` document, `--html` its chart and steps,
    /// `--junit`, `--summary-md`), and picks the exit code: 1 when no rate
    /// held or the capacity is below `--min-capacity`.
    ///
    /// # Errors
    ///
    /// A file that could not be written (exit 3, after the others).
    pub fn finish_capacity(&self, report: &CapacityReport) -> Result<ExitCode, Failure> {
        self.finish_any(Finished::Capacity(report))?;
        Ok(if report.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_THRESHOLD)
        })
    }

    /// Prints the summary (to stderr when the JSON goes to stdout) and
    /// writes each file asked for, every one it can.
    fn finish_any(&self, done: Finished<'_>) -> Result<(), Failure> {
        let summary = done.summary();
        if self.json.as_deref() == Some("-") {
            eprintln!("{summary}");
        } else {
            println!("{summary}");
        }
        let mut failed = Vec::new();
        let mut attempt = |what: &str, result: std::io::Result<()>| {
            if let Err(e) = result {
                failed.push(io(&format!("cannot write {what}"), &e));
            }
        };
        if let (Some(prefix), Finished::Run(report)) = (&self.csv, done) {
            let written = report::csv::write_all(prefix, report, self.csv_full_history);
            attempt(&format!("{prefix}_*.csv"), written.map(drop));
        }
        if let Some(path) = &self.junit {
            attempt(
                &path.display().to_string(),
                std::fs::write(path, done.junit()),
            );
        }
        if let Some(path) = &self.summary_md {
            attempt(
                &path.display().to_string(),
                std::fs::write(path, done.markdown()),
            );
        }
        if self.json.is_some() || self.html.is_some() {
            let (json, html) = done.json_and_html(self.html.is_some());
            match self.json.as_deref() {
                Some("-") => println!("{json}"),
                Some(path) => attempt(path, std::fs::write(path, json)),
                None => {}
            }
            if let (Some(path), Some(html)) = (&self.html, html) {
                attempt(path, std::fs::write(path, html));
            }
        }
        match failed.is_empty() {
            true => Ok(()),
            false => Err(cannot_run(failed.join("; "))),
        }
    }
}

/// What ended: a run, or a capacity search; each renders its own files.
#[derive(Debug, Clone, Copy)]
enum Finished<'a> {
    Run(&'a RunReport),
    Capacity(&'a CapacityReport),
}

impl Finished<'_> {
    fn summary(self) -> String {
        match self {
            Finished::Run(r) => render_summary(r),
            Finished::Capacity(r) => capacity::report::render_summary(r),
        }
    }

    fn junit(self) -> String {
        let (suite, scenario, cases, started, ended) = match self {
            Finished::Run(r) => {
                let cases: Vec<TestCase> = r.verdicts.iter().map(TestCase::from).collect();
                ("thresholds", &r.scenario, cases, r.started, r.ended)
            }
            Finished::Capacity(r) => {
                let cases = capacity::report::junit_cases(r);
                ("capacity", &r.scenario, cases, r.started, r.ended)
            }
        };
        let secs = ended.duration_since(started).unwrap_or_default();
        report::junit::render(suite, scenario, secs.as_secs_f64(), &cases)
    }

    fn markdown(self) -> String {
        match self {
            Finished::Run(r) => report::markdown::render(r),
            Finished::Capacity(r) => capacity::report::markdown(r),
        }
    }

    /// The JSON text, and the HTML page when `html` (a run's page is drawn
    /// from its JSON report, made once for both).
    fn json_and_html(self, html: bool) -> (String, Option<String>) {
        match self {
            Finished::Run(r) => {
                let json = JsonReport::new(r);
                let page = html.then(|| report::html::render_html(&json));
                (json.to_string_pretty(), page)
            }
            Finished::Capacity(r) => (
                CapacityJson::new(r).to_string_pretty(),
                html.then(|| capacity::html::render(r)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn outputs(args: &[&str]) -> Result<Outputs, String> {
        let cli = Cli::try_parse_from(["stampede", "demo"].iter().chain(args)).unwrap();
        let Command::Demo(demo) = cli.command else {
            unreachable!()
        };
        Outputs::check(&demo.output).map_err(|f| {
            assert_eq!(f.code, crate::exit::EXIT_USAGE);
            f.message
        })
    }

    #[test]
    fn output_places_are_checked_before_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        assert!(outputs(&["--csv", &format!("{d}/x"), "--json", "-"]).is_ok());
        assert!(outputs(&["--json", &format!("{d}/r.json"), "--html", "r.html"]).is_ok());
        assert_eq!(
            outputs(&["--csv", "/no/such/dir/x"]).unwrap_err(),
            "--csv /no/such/dir/x_stats.csv: the directory /no/such/dir does not exist"
        );
        assert_eq!(
            outputs(&["--json", "/no/such/dir/r.json"]).unwrap_err(),
            "--json /no/such/dir/r.json: the directory /no/such/dir does not exist"
        );
        assert_eq!(
            outputs(&["--html", &d]).unwrap_err(),
            format!("--html {d}: is a directory")
        );
    }
}
