//! A comparison written out: the terminal table, Markdown (for a CI job's
//! summary page) and JSON. The table and Markdown show the main metrics of
//! each row as `base → new (change)`, mark a change beyond noise with `*`,
//! list each row's regressions, then the gates.

use std::fmt::Write as _;

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{CellAlignment, Table};
use serde_json::json;

use super::metric::{Change, Unit};
use super::{Comparison, RowChange};

/// The columns the table and Markdown show (JSON has every metric).
const SHOWN: [&str; 6] = ["rps", "fail_ratio", "p50", "p95", "p99", "p100"];

fn header() -> Vec<&'static str> {
    vec![
        "Type",
        "Name",
        "req/s",
        "fail %",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "regressed",
    ]
}

fn value(c: &Change, v: f64) -> String {
    match c.metric.unit() {
        Unit::Ratio => format!("{:.2}%", v * 100.0),
        Unit::PerSecond | Unit::Ms if v >= 100.0 => format!("{v:.0}"),
        _ => format!("{v:.2}"),
    }
}

/// The change as the table shows it: `+12.5%`, `+0.40pp` of a ratio, `new`
/// from a base of zero.
pub fn change_text(c: &Change) -> String {
    match c.metric.unit() {
        Unit::Ratio => format!("{:+.2}pp", c.delta() * 100.0),
        _ if c.base == 0.0 => "new".to_owned(),
        _ => format!("{:+.1}%", c.relative() * 100.0),
    }
}

fn cell(c: &Change) -> String {
    let change = change_text(c);
    let mark = if c.beyond_noise { "*" } else { "" };
    format!(
        "{} → {} ({change}){mark}",
        value(c, c.base),
        value(c, c.new)
    )
}

fn cells(row: &RowChange) -> Vec<String> {
    let (method, name) = match &row.key {
        Some(k) => (k.method.clone(), k.name.clone()),
        None => (String::new(), "Aggregated".to_owned()),
    };
    let mut out = vec![method, name];
    for m in SHOWN {
        let c = row.changes.iter().find(|c| c.metric.name() == m);
        out.push(c.map(cell).unwrap_or_default());
    }
    out.push(row.regressed().join(", "));
    out
}

fn legend(c: &Comparison) -> String {
    format!(
        "* beyond noise: a change over {:.0}% with at least {} requests in each run; a percentile's 95% intervals (from the histograms) apart; a failure ratio by a z-test at 95%",
        c.noise.margin * 100.0,
        c.noise.min_samples
    )
}

fn gate_line(g: &super::GateResult) -> String {
    let verdict = if g.passed { "pass" } else { "FAIL" };
    let noise = if g.beyond_noise { "" } else { ", within noise" };
    format!(
        "{verdict}  {}  ({} → {}{noise})",
        g.gate,
        fmt(g.base),
        fmt(g.new)
    )
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// The terminal table, then the endpoints of one run only, then the gates.
pub fn table(c: &Comparison) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(header());
    for row in &c.rows {
        t.add_row(cells(row));
    }
    for i in 2..8 {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = format!("{t}\n{}\n", legend(c));
    for (k, which) in &c.only_in {
        let _ = writeln!(out, "only in the {which} run: {} {}", k.method, k.name);
    }
    for g in &c.gates {
        let _ = writeln!(out, "{}", gate_line(g));
    }
    out
}

/// The comparison as GitHub-flavoured Markdown.
pub fn markdown(c: &Comparison) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let verdict = match (c.gates.is_empty(), c.passed()) {
        (true, _) => "compared".to_owned(),
        (false, true) => "every gate held".to_owned(),
        (false, false) => format!(
            "{} of {} gates failed",
            c.gates.iter().filter(|g| !g.passed).count(),
            c.gates.len()
        ),
    };
    let mut out = format!(
        "### stampede compare: `{}` ({verdict})\n\n",
        esc(&c.scenario)
    );
    let h = header();
    let _ = writeln!(out, "| {} |", h.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(h.len()));
    for row in &c.rows {
        let cells: Vec<String> = cells(row).iter().map(|s| esc(s)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(out, "\n{}\n", legend(c));
    for (k, which) in &c.only_in {
        let _ = writeln!(
            out,
            "- only in the {which} run: `{} {}`",
            k.method,
            esc(&k.name)
        );
    }
    if !c.gates.is_empty() {
        let _ = writeln!(
            out,
            "\n| gate | verdict | base | new | change | limit |\n|---|---|---|---|---|---|"
        );
        for g in &c.gates {
            let verdict = if g.passed { "✅ pass" } else { "❌ fail" };
            let _ = writeln!(
                out,
                "| `{}` | {verdict} | {} | {} | {} | {} |",
                esc(&g.gate),
                fmt(g.base),
                fmt(g.new),
                fmt(g.change),
                fmt(g.limit)
            );
        }
    }
    out
}

/// The comparison as pretty JSON text (schema `stampede-compare/1`).
pub fn json_text(c: &Comparison) -> String {
    serde_json::to_string_pretty(&to_json(c)).unwrap_or_default() + "\n"
}

/// The comparison as JSON: every metric of every row, and the gates.
pub fn to_json(c: &Comparison) -> serde_json::Value {
    let rows: Vec<_> = c
        .rows
        .iter()
        .map(|r| {
            let (method, name) = r
                .key
                .as_ref()
                .map_or(("", "Aggregated"), |k| (k.method.as_str(), k.name.as_str()));
            json!({"method": method, "name": name, "changes": r.changes, "regressed": r.regressed()})
        })
        .collect();
    let only_in: Vec<_> = c
        .only_in
        .iter()
        .map(|(k, which)| json!({"method": k.method, "name": k.name, "run": which}))
        .collect();
    json!({
        "schema": "stampede-compare/1",
        "scenario": c.scenario,
        "passed": c.passed(),
        "noise": c.noise,
        "rows": rows,
        "only_in": only_in,
        "gates": c.gates,
    })
}
