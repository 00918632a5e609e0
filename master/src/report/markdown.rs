//! The run as Markdown (`--summary-md FILE`), fit for a CI job's summary
//! page: a heading with the verdict, the run in one line, the thresholds
//! with their actual values, and the request table.

use std::fmt::Write as _;

use stampede_common::stats::StatsRow;

use super::RunReport;

/// A table cell: pipes escaped, line breaks flattened.
pub(crate) fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn row(out: &mut String, r: &StatsRow) {
    let p = |i: usize| r.percentiles_ms.get(i).copied().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} ({:.2}%) | {} | {} | {} | {} | {:.1} |",
        cell(&r.method),
        cell(&r.name),
        r.requests,
        r.failures,
        r.fail_ratio() * 100.0,
        ms(r.median_ms),
        ms(p(5)),
        ms(p(7)),
        ms(r.avg_ms),
        r.rps
    );
}

/// The Markdown summary of a finished run.
pub fn render(r: &RunReport) -> String {
    let s = &r.snapshot;
    let failed = r.verdicts.iter().filter(|v| !v.passed).count();
    let verdict = match (r.verdicts.is_empty(), failed) {
        (true, _) => "no thresholds".to_owned(),
        (false, 0) => "every threshold held".to_owned(),
        (false, n) => format!("{n} of {} thresholds failed", r.verdicts.len()),
    };
    let secs = r
        .ended
        .duration_since(r.started)
        .unwrap_or_default()
        .as_secs_f64();
    let mut out = format!("### stampede: `{}` ({verdict})\n\n", cell(&r.scenario));
    let _ = writeln!(
        out,
        "{} users against `{}` for {secs:.0} s on {} worker(s): {} requests, {} failures ({:.2}%), {:.1} req/s.\n",
        r.users,
        cell(&r.host),
        r.workers,
        s.total.requests,
        s.total.failures,
        s.total.fail_ratio() * 100.0,
        s.total.rps
    );
    if !r.verdicts.is_empty() {
        out.push_str("| threshold | verdict | actual | limit |\n|---|---|---|---|\n");
        for v in &r.verdicts {
            let mark = if v.passed { "✅ pass" } else { "❌ fail" };
            let actual = v
                .actual
                .map_or_else(|| "no requests".to_owned(), |a| format!("{a:.2}{}", v.unit));
            let _ = writeln!(
                out,
                "| `{}` | {mark} | {actual} | {}{} |",
                cell(&v.threshold),
                v.limit,
                v.unit
            );
        }
        out.push('\n');
    }
    out.push_str(
        "| Type | Name | Requests | Failures | Median ms | p95 ms | p99 ms | Avg ms | req/s |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in &s.rows {
        row(&mut out, r);
    }
    row(&mut out, &s.total);
    out
}
