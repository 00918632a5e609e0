//! Locust's CSV files, with its exact headers and column meanings, so scripts
//! and dashboards that read Locust's CSV work unchanged: `PREFIX_stats.csv`,
//! `PREFIX_stats_history.csv`, `PREFIX_failures.csv`, `PREFIX_exceptions.csv`.
//! Times are milliseconds; unlike Locust's, percentiles are not rounded to
//! buckets (exact to 3 significant digits). The history file has four more
//! columns after Locust's: the load shape's target next to what was achieved.

use std::path::PathBuf;

use stampede_common::stats::{Cumulative, PERCENTILE_LABELS, StatsRow};

use super::RunReport;

/// `_stats.csv` header.
pub const STATS_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
/// `_stats_history.csv` header.
pub const HISTORY_HEADER: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size,Target Users,Target Iterations/s,Iterations/s,Dropped Iterations/s";
/// `_failures.csv` header.
pub const FAILURES_HEADER: &str = "Method,Name,Error,Occurrences,First Seen,Last Seen";
/// `_exceptions.csv` header.
pub const EXCEPTIONS_HEADER: &str = "Count,Message,Traceback,Nodes";

/// A number as Locust's CSV shows it: integers plain, others with up to 3 decimals.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn line(fields: &[String]) -> String {
    let mut w = ::csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let _ = w.write_record(fields);
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn percentiles(requests: u64, values: &[f64]) -> Vec<String> {
    if requests == 0 {
        return vec!["N/A".to_owned(); PERCENTILE_LABELS.len()];
    }
    values.iter().map(|v| num(*v)).collect()
}

fn stats_row(r: &StatsRow) -> String {
    let mut f = vec![
        r.method.clone(),
        r.name.clone(),
        r.requests.to_string(),
        r.failures.to_string(),
        num(r.median_ms),
        num(r.avg_ms),
        num(r.min_ms),
        num(r.max_ms),
        num(r.avg_content),
        num(r.rps),
        num(r.fail_per_s),
    ];
    f.extend(percentiles(r.requests, &r.percentiles_ms));
    line(&f)
}

/// `_stats.csv`: one row per endpoint (by name, then method), then Aggregated.
pub fn stats_csv(r: &RunReport) -> String {
    let mut out = format!("{STATS_HEADER}\n");
    for row in r
        .snapshot
        .rows
        .iter()
        .chain(std::iter::once(&r.snapshot.total))
    {
        out.push_str(&stats_row(row));
    }
    out
}

fn totals(c: &Cumulative) -> Vec<String> {
    vec![
        c.requests.to_string(),
        c.failures.to_string(),
        num(c.median_ms),
        num(c.avg_ms),
        num(c.min_ms),
        num(c.max_ms),
        num(c.avg_content),
    ]
}

/// `_stats_history.csv`: an Aggregated row per tick (about a second), plus a
/// row per endpoint with `full_history`. Requests/s, Failures/s and the
/// percentiles are the tick's; the `Total` columns are since the start.
pub fn history_csv(r: &RunReport, full_history: bool) -> String {
    let mut out = format!("{HISTORY_HEADER}\n");
    let mut prev_ms = stampede_common::stats::unix_ms(r.started);
    for p in r.stats.history() {
        let ts = (p.unix_ms / 1000).to_string();
        let tick_secs = ((p.unix_ms - prev_ms) as f64 / 1000.0).max(1e-3);
        prev_ms = p.unix_ms;
        if full_history {
            for e in &p.endpoints {
                let mut f = vec![
                    ts.clone(),
                    p.users.to_string(),
                    e.key.method.clone(),
                    e.key.name.clone(),
                ];
                f.push(num(e.requests as f64 / tick_secs));
                f.push(num(e.failures as f64 / tick_secs));
                f.extend(percentiles(e.requests, &e.percentiles_ms));
                f.extend(totals(&e.total));
                f.extend([String::new(), String::new(), String::new(), String::new()]);
                out.push_str(&line(&f));
            }
        }
        let tick_requests = p.endpoints.iter().map(|e| e.requests).sum();
        let mut f = vec![
            ts,
            p.users.to_string(),
            String::new(),
            "Aggregated".to_owned(),
            num(p.rps),
            num(p.fail_per_s),
        ];
        f.extend(percentiles(tick_requests, &p.percentiles_ms));
        f.extend(totals(&p.total));
        f.extend([
            p.target_users.to_string(),
            p.target_rate.map(num).unwrap_or_default(),
            num(p.iterations_per_s),
            num(p.dropped_per_s),
        ]);
        out.push_str(&line(&f));
    }
    out
}

/// `_failures.csv`.
pub fn failures_csv(r: &RunReport) -> String {
    let mut out = format!("{FAILURES_HEADER}\n");
    for (k, e) in &r.snapshot.failures {
        out.push_str(&line(&[
            k.key.method.clone(),
            k.key.name.clone(),
            k.error.clone(),
            e.occurrences.to_string(),
            utc_seconds(e.first_seen),
            utc_seconds(e.last_seen),
        ]));
    }
    out
}

/// `_exceptions.csv`: errors that kept requests from being sent (no traceback
/// or node list: they are scenario errors, the same on every worker).
pub fn exceptions_csv(r: &RunReport) -> String {
    let mut out = format!("{EXCEPTIONS_HEADER}\n");
    for (msg, n) in &r.snapshot.exceptions {
        out.push_str(&line(&[
            n.to_string(),
            msg.clone(),
            String::new(),
            String::new(),
        ]));
    }
    out
}

/// `%Y-%m-%dT%H:%M:%SZ`, as Locust writes First/Last Seen.
fn utc_seconds(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Writes the four files, each beside its place and then renamed into it
/// (a reader sees the old file or the new one, never half of one); returns
/// their paths.
///
/// # Errors
///
/// A file that cannot be written.
pub fn write_all(prefix: &str, r: &RunReport, full_history: bool) -> std::io::Result<Vec<PathBuf>> {
    let files = [
        ("_stats.csv", stats_csv(r)),
        ("_stats_history.csv", history_csv(r, full_history)),
        ("_failures.csv", failures_csv(r)),
        ("_exceptions.csv", exceptions_csv(r)),
    ];
    let mut paths = Vec::new();
    for (suffix, text) in files {
        let path = PathBuf::from(format!("{prefix}{suffix}"));
        crate::files::replace(&path, text.as_bytes())?;
        paths.push(path);
    }
    Ok(paths)
}
