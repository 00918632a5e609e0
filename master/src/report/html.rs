//! The HTML report (`--html FILE`): [`render_html`] turns a [`JsonReport`]
//! into one self-contained page that opens offline: inline CSS, inline SVG
//! charts (the `charts` submodule), no script and no external URL. It owns the
//! page's layout, the tables (thresholds, request statistics, percentiles,
//! failures, exceptions), the number formats and the HTML escaping of every
//! string that comes from the run.

use std::fmt::{self, Display, Write as _};
use std::time::Duration;

use stampede_common::duration::format_duration;

use super::json::{Endpoint, JsonReport, Load, Percentiles};

#[path = "charts.rs"]
mod charts;

/// Text escaped for HTML element content and quoted attribute values (the
/// JUnit writer's XML too).
#[derive(Debug, Clone, Copy)]
pub(super) struct Esc<'a>(pub(super) &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// `1234567` as `1,234,567`.
fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number with `decimals`, thousands grouped; `–` when not finite.
fn num(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "–".to_owned();
    }
    let text = format!("{:.decimals$}", v.abs());
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let negative = v < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0');
    let sign = if negative { "-" } else { "" };
    let whole = whole.parse::<u64>().map_or_else(|_| whole.to_owned(), int);
    let dot = if frac.is_empty() { "" } else { "." };
    format!("{sign}{whole}{dot}{frac}")
}

/// Milliseconds to about three significant digits, as the histograms keep them.
fn ms(v: f64) -> String {
    let a = v.abs();
    let decimals = if a < 10.0 {
        2
    } else if a < 100.0 {
        1
    } else {
        0
    };
    if v == 0.0 {
        "0".to_owned()
    } else {
        num(v, decimals)
    }
}

/// A rate per second.
fn rate(v: f64) -> String {
    let decimals = if v.abs() < 10.0 { 2 } else { 1 };
    if v == 0.0 {
        "0".to_owned()
    } else {
        num(v, decimals)
    }
}

/// An RFC 3339 timestamp as `2025-01-31 12:00:00`.
fn when(ts: &str) -> String {
    ts.get(..19)
        .map_or_else(|| ts.to_owned(), |s| s.replacen('T', " ", 1))
}

/// A threshold value in its unit.
fn value(v: f64, unit: &str) -> String {
    match unit {
        "ms" => format!("{} ms", ms(v)),
        "%" => format!("{}%", num(v, 2)),
        "req/s" => format!("{} req/s", rate(v)),
        "" if v.fract() == 0.0 => num(v, 0),
        u => format!("{} {u}", num(v, 2)),
    }
}

const CSS: &str = r#"
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f4f5f7;--ok:#15803d;--bad:#b91c1c;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px 20px 40px}
.hero{background:#111827;color:#f9fafb;border-radius:10px;padding:22px 26px}
.brand{font-size:12px;letter-spacing:.1em;text-transform:uppercase;color:#9ca3af}
.title{display:flex;align-items:center;gap:16px;flex-wrap:wrap}
h1{margin:2px 0;font-size:26px;font-weight:650;word-break:break-word}
.host{font-family:var(--mono);color:#d1d5db;margin:2px 0 0;word-break:break-all}
.badge{padding:4px 14px;border-radius:6px;font-weight:700;letter-spacing:.06em;font-size:14px;color:#fff}
.badge.pass{background:#16a34a}.badge.fail{background:#dc2626}
.badge small{font-weight:500;letter-spacing:0;opacity:.9;margin-left:6px}
.meta{display:grid;grid-template-columns:repeat(auto-fit,minmax(135px,1fr));gap:12px 24px;margin:18px 0 0}
.meta dt{font-size:11px;text-transform:uppercase;letter-spacing:.07em;color:#9ca3af}
.meta dd{margin:1px 0 0;font-weight:600}.meta .wide{grid-column:span 2}
nav{display:flex;gap:18px;flex-wrap:wrap;margin:14px 2px 0;font-size:13px}
nav a{color:#374151;text-decoration:none;border-bottom:1px dotted #9ca3af}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card .k{display:block;font-size:12px;color:var(--muted)}
.card .v{display:block;font-size:21px;font-weight:650;font-variant-numeric:tabular-nums}
.card .v small{font-size:13px;font-weight:500;color:var(--muted);margin-left:3px}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:16px 0}
h2{font-size:17px;margin:0 0 12px;font-weight:650}
h2 .sum,.note,.empty{font-size:13px;font-weight:400;color:var(--muted)}h3.sub{font-size:15px;margin:22px 0 2px}
.tw{overflow-x:auto}table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:13px}
th,td{padding:6px 10px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap}
th{font-size:12px;color:var(--muted);font-weight:600;background:#f9fafb}tbody tr:nth-child(even){background:#fafbfc}
tbody tr:hover{background:#f1f5f9}.n{text-align:right}table.fit{width:auto;min-width:50%}
.fit th,.fit td{padding:6px 22px 6px 10px}
td.name{white-space:normal;word-break:break-all;font-family:var(--mono);font-size:12.5px;min-width:12em}
tfoot td{font-weight:700;border-top:2px solid #d1d5db;border-bottom:0}
.m{font:600 11px var(--mono);color:#334155;background:#e8edf3;border-radius:4px;padding:1px 6px}.bad{color:var(--bad)}
td small{color:var(--muted);margin-left:4px}
.pill{font-size:11px;font-weight:700;letter-spacing:.05em;border-radius:10px;padding:2px 9px;color:#fff}
.pill.pass{background:#16a34a}.pill.fail{background:#dc2626}code{font-family:var(--mono);font-size:12.5px}
.err{white-space:pre-wrap;word-break:break-word;font-family:var(--mono);font-size:12.5px;min-width:20em}
.charts{display:grid;gap:16px}.charts.grid{grid-template-columns:repeat(auto-fill,minmax(min(440px,100%),1fr));margin-top:10px}
.fig{margin:0;border:1px solid var(--line);border-radius:8px;padding:12px 14px 8px;min-width:0}
.fig-head{display:flex;justify-content:space-between;align-items:baseline;gap:4px 14px;flex-wrap:wrap}
.fig h3{font-size:14px;margin:0;font-weight:600;word-break:break-all}
.legend{display:flex;gap:14px;font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:16px;height:3px;border-radius:2px;background:var(--c);vertical-align:middle;margin-right:6px}
figcaption{font-size:12px;color:var(--muted)}
svg.chart{display:block;width:100%;height:auto;margin:6px 0 2px;overflow:visible}
.chart text{font-size:11px;fill:#6b7280;font-variant-numeric:tabular-nums}
.chart .yl{text-anchor:end}.chart .xl{text-anchor:middle}.chart .unit{font-weight:600}
.chart .gl{stroke:#edf0f3;fill:none}.chart .axis{stroke:#9ca3af;fill:none}.chart path{vector-effect:non-scaling-stroke}
.chart .line{fill:none;stroke:var(--c);stroke-width:1.6;stroke-linejoin:round;stroke-linecap:round}
.chart .area{fill:var(--c);opacity:.1;stroke:none}
.c-rps{--c:#2563eb}.c-fail{--c:#dc2626}.c-p50{--c:#0d9488}.c-p95{--c:#d97706}.c-p99{--c:#7c3aed}.c-users{--c:#475569}.c-target{--c:#94a3b8}
.chart .c-target{stroke-dasharray:6 4}.legend .c-target i{background:repeating-linear-gradient(90deg,var(--c) 0 5px,transparent 5px 8px)}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
@media print{body{background:#fff}section,.fig{break-inside:avoid}}
"#;

/// The whole report as one self-contained HTML page.
pub fn render_html(report: &JsonReport) -> String {
    let mut out = String::with_capacity(128 * 1024);
    // Writing into a String cannot fail.
    let _ = write_page(&mut out, report);
    out
}

fn write_page(out: &mut String, r: &JsonReport) -> fmt::Result {
    let title = Esc(&r.run.scenario);
    out.push_str(r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">"#);
    out.push_str(r#"<meta name="viewport" content="width=device-width,initial-scale=1">"#);
    write!(
        out,
        "<title>stampede report: {title}</title><style>{CSS}</style></head>"
    )?;
    out.push_str("<body><main>");
    write_header(out, r)?;
    write_cards(out, &r.total)?;
    write_thresholds(out, r)?;
    write_stats(out, r)?;
    write_failures(out, r)?;
    charts::write_charts(out, r)?;
    let tool = Esc(&r.run.tool);
    write!(
        out,
        "<footer>generated by {tool} · times in UTC</footer></main></body></html>"
    )
}

fn write_header(out: &mut String, r: &JsonReport) -> fmt::Result {
    let run = &r.run;
    out.push_str(r#"<header class="hero"><div class="brand">stampede report</div>"#);
    write!(out, r#"<div class="title"><h1>{}</h1>"#, Esc(&run.scenario))?;
    if !r.thresholds.is_empty() {
        let n = r.thresholds.len();
        let ok = r.thresholds.iter().filter(|v| v.passed).count();
        let (class, word) = match r.passed {
            true => ("pass", "PASSED"),
            false => ("fail", "FAILED"),
        };
        let detail = format!("<small>{ok} of {n} thresholds</small>");
        write!(out, r#"<span class="badge {class}">{word}{detail}</span>"#)?;
    }
    write!(
        out,
        r#"</div><p class="host">{}</p><dl class="meta">"#,
        Esc(&run.host)
    )?;
    let duration = Duration::try_from_secs_f64(run.duration_s).unwrap_or_default();
    let (start, end) = (when(&run.started), when(&run.ended));
    let end = match (start.split_once(' '), end.split_once(' ')) {
        (Some((d0, _)), Some((d1, t1))) if d0 == d1 => t1.to_owned(),
        _ => end,
    };
    let whole = run.spawn_rate.fract() == 0.0;
    let spawn = num(run.spawn_rate, if whole { 0 } else { 2 });
    let reason = match run.stop_reason {
        "run_time" => "run time reached",
        "threshold_aborted" => "aborted: a threshold failed",
        other => other,
    };
    let load = match &run.load {
        Load::ArrivalRate {
            stages, max_users, ..
        } => {
            let peak = stages.iter().map(|s| s.target_rate).fold(0.0, f64::max);
            [
                ("Arrival rate", format!("up to {} iterations/s", rate(peak))),
                (
                    "Iterations",
                    format!(
                        "{} done, {} dropped (max {} users)",
                        int(r.iterations.completed),
                        int(r.iterations.dropped),
                        int(*max_users)
                    ),
                ),
            ]
        }
        _ => [
            ("Users", int(run.users)),
            ("Spawn rate", format!("{spawn} users/s")),
        ],
    };
    let items = [
        ("Run", format!("{} – {} UTC", Esc(&start), Esc(&end))),
        ("Duration", format_duration(duration)),
        load[0].clone(),
        load[1].clone(),
        ("Workers", int(run.workers as u64)),
        ("Stop reason", Esc(reason).to_string()),
    ];
    for (k, v) in items {
        let class = if k == "Run" { r#" class="wide""# } else { "" };
        write!(out, "<div{class}><dt>{k}</dt><dd>{v}</dd></div>")?;
    }
    for o in &r.outages {
        write!(
            out,
            r#"<div class="wide"><dt>Master outage</dt><dd>{:.1} s from {} UTC (resumed from its state dir; the workers measured through it)</dd></div>"#,
            o.length_s,
            Esc(&o.start)
        )?;
    }
    out.push_str("</dl></header><nav>");
    let links = [
        ("thresholds", "Thresholds", !r.thresholds.is_empty()),
        ("stats", "Request statistics", true),
        ("percentiles", "Percentiles", true),
        ("service", "Service times", r.service_time.is_some()),
        ("failures", "Failures", !r.failures.is_empty()),
        ("exceptions", "Exceptions", !r.exceptions.is_empty()),
        ("charts", "Charts", true),
    ];
    for (id, text, _) in links.iter().filter(|l| l.2) {
        write!(out, r##"<a href="#{id}">{text}</a>"##)?;
    }
    out.push_str("</nav>");
    Ok(())
}

fn write_cards(out: &mut String, t: &Endpoint) -> fmt::Result {
    let fail_ratio = format!("{}%", num(t.fail_ratio * 100.0, 2));
    let p = &t.percentiles_ms;
    let cards = [
        ("Requests", int(t.requests), ""),
        ("Failures", int(t.failures), fail_ratio.as_str()),
        ("Throughput", rate(t.rps), "req/s"),
        ("Average", ms(t.avg_ms), "ms"),
        ("Median", ms(t.median_ms), "ms"),
        ("95th percentile", ms(p.p95), "ms"),
        ("99th percentile", ms(p.p99), "ms"),
        ("Max", ms(t.max_ms), "ms"),
    ];
    out.push_str(r#"<div class="cards">"#);
    for (k, v, unit) in cards {
        let bad = match k == "Failures" && t.failures > 0 {
            true => " bad",
            false => "",
        };
        let v = format!(r#"<span class="v{bad}">{v}<small>{unit}</small></span>"#);
        write!(
            out,
            r#"<div class="card"><span class="k">{k}</span>{v}</div>"#
        )?;
    }
    out.push_str("</div>");
    Ok(())
}

/// Opens a section with its heading (`sum`: a muted note beside it) and a
/// table; `heads` are separated by `|`, one starting with `>` is a
/// right-aligned number column.
fn open_table(out: &mut String, id: &str, title: &str, sum: &str, heads: &str) -> fmt::Result {
    let fit = match id {
        "thresholds" => r#" class="fit""#,
        _ => "",
    };
    write!(
        out,
        r#"<section id="{id}"><h2>{title} <span class="sum">{sum}</span></h2>"#
    )?;
    write!(out, r#"<div class="tw"><table{fit}><thead><tr>"#)?;
    for h in heads.split('|') {
        match h.strip_prefix('>') {
            Some(h) => write!(out, r#"<th class="n">{h}</th>"#)?,
            None => write!(out, "<th>{h}</th>")?,
        }
    }
    out.push_str("</tr></thead><tbody>");
    Ok(())
}

const CLOSE_TABLE: &str = "</tbody></table></div></section>";

/// A table row from `(class, html)` cells.
fn tr<S: Display>(out: &mut String, cells: &[(&str, S)]) -> fmt::Result {
    out.push_str("<tr>");
    for (class, html) in cells {
        match *class {
            "" => write!(out, "<td>{html}</td>")?,
            class => write!(out, r#"<td class="{class}">{html}</td>"#)?,
        }
    }
    out.push_str("</tr>");
    Ok(())
}

fn write_thresholds(out: &mut String, r: &JsonReport) -> fmt::Result {
    if r.thresholds.is_empty() {
        return Ok(());
    }
    let ok = r.thresholds.iter().filter(|v| v.passed).count();
    let sum = format!("{ok} of {} passed", r.thresholds.len());
    let heads = "Result|Threshold|>Actual|>Limit";
    open_table(out, "thresholds", "Thresholds", &sum, heads)?;
    for v in &r.thresholds {
        let (class, word, cell) = match v.passed {
            true => ("pass", "PASS", "n"),
            false => ("fail", "FAIL", "n bad"),
        };
        let actual = v.actual.map(|a| value(a, v.unit));
        let actual = Esc(actual.as_deref().unwrap_or("no requests")).to_string();
        let pill = format!(r#"<span class="pill {class}">{word}</span>"#);
        let threshold = format!("<code>{}</code>", Esc(&v.threshold));
        let limit = Esc(&value(v.limit, v.unit)).to_string();
        tr(
            out,
            &[("", pill), ("", threshold), (cell, actual), ("n", limit)],
        )?;
    }
    out.push_str(CLOSE_TABLE);
    if r.run.stop_reason == "threshold_aborted" {
        let note = "The run was stopped early: a threshold with abort_on_fail was lost.";
        write!(out, r#"<p class="note bad">{note}</p>"#)?;
    }
    Ok(())
}

/// The Type and Name cells of an endpoint row.
fn name_cells(e: &Endpoint) -> [(&'static str, String); 2] {
    let method = match e.method.as_str() {
        "" => String::new(),
        m => format!(r#"<span class="m">{}</span>"#, Esc(m)),
    };
    [("", method), ("name", Esc(&e.name).to_string())]
}

fn write_stats(out: &mut String, r: &JsonReport) -> fmt::Result {
    let heads = "Type|Name|>Requests|>Fails|>Average|>Min|>Max|>Median|>Average size (bytes)|>RPS|>Failures/s";
    let sum = "response times in ms";
    open_table(out, "stats", "Request statistics", sum, heads)?;
    let row = |out: &mut String, e: &Endpoint| {
        let fails = match e.failures {
            0 => ("n", "0".to_owned()),
            n => (
                "n bad",
                format!("{}<small>{}%</small>", int(n), num(e.fail_ratio * 100.0, 1)),
            ),
        };
        let mut cells = name_cells(e).to_vec();
        cells.extend([("n", int(e.requests)), fails]);
        for v in [e.avg_ms, e.min_ms, e.max_ms, e.median_ms] {
            cells.push(("n", ms(v)));
        }
        cells.push(("n", num(e.avg_content_bytes, 0)));
        cells.extend([("n", rate(e.rps)), ("n", rate(e.failures_per_s))]);
        tr(out, &cells)
    };
    r.stats.iter().try_for_each(|e| row(out, e))?;
    out.push_str("</tbody><tfoot>");
    row(out, &r.total)?;
    out.push_str("</tfoot></table></div></section>");
    let (id, title) = match &r.service_time {
        Some(_) => (
            "percentiles",
            "Response time percentiles, from each iteration's intended start",
        ),
        None => ("percentiles", "Response time percentiles"),
    };
    write_percentiles(out, id, title, &r.stats, &r.total)?;
    if let Some(st) = &r.service_time {
        let title = "Service time percentiles, from sending each request (uncorrected)";
        write_percentiles(out, "service", title, &st.stats, &st.total)?;
    }
    Ok(())
}

fn write_percentiles(
    out: &mut String,
    id: &str,
    title: &str,
    rows: &[Endpoint],
    total: &Endpoint,
) -> fmt::Result {
    let heads = "Type|Name|>50%|>66%|>75%|>80%|>90%|>95%|>98%|>99%|>99.9%|>99.99%|>100%";
    let sum = "ms, exact to 3 significant digits";
    open_table(out, id, title, sum, heads)?;
    let row = |out: &mut String, e: &Endpoint| {
        let p: &Percentiles = &e.percentiles_ms;
        let values = [
            p.p50, p.p66, p.p75, p.p80, p.p90, p.p95, p.p98, p.p99, p.p99_9, p.p99_99,
        ];
        let mut cells = name_cells(e).to_vec();
        cells.extend(values.iter().chain([&p.p100]).map(|v| ("n", ms(*v))));
        tr(out, &cells)
    };
    rows.iter().try_for_each(|e| row(out, e))?;
    out.push_str("</tbody><tfoot>");
    row(out, total)?;
    out.push_str("</tfoot></table></div></section>");
    Ok(())
}

fn write_failures(out: &mut String, r: &JsonReport) -> fmt::Result {
    if !r.failures.is_empty() {
        let total: u64 = r.failures.iter().map(|f| f.occurrences).sum();
        let sum = format!("{} occurrences in {} groups", int(total), r.failures.len());
        let heads = ">Occurrences|Type|Name|Error|First seen|Last seen";
        open_table(out, "failures", "Failures", &sum, heads)?;
        let time = |ts: &str| Esc(when(ts).get(11..).unwrap_or_default()).to_string();
        for f in &r.failures {
            let method = format!(r#"<span class="m">{}</span>"#, Esc(&f.method));
            let (name, error) = (Esc(&f.name).to_string(), Esc(&f.error).to_string());
            let (first, last) = (time(&f.first_seen), time(&f.last_seen));
            let n = int(f.occurrences);
            let cells = [("n", n), ("", method), ("name", name), ("err", error)];
            tr(out, &[&cells[..], &[("", first), ("", last)]].concat())?;
        }
        out.push_str(CLOSE_TABLE);
    }
    if !r.exceptions.is_empty() {
        let sum = "errors that kept a request from being sent";
        open_table(out, "exceptions", "Exceptions", sum, ">Count|Message")?;
        for e in &r.exceptions {
            let message = Esc(&e.message).to_string();
            tr(out, &[("n", int(e.count)), ("err", message)])?;
        }
        out.push_str(CLOSE_TABLE);
    }
    Ok(())
}
