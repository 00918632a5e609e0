//! What the HTML pages (the run report, the comparison) share: the HTML
//! escaping of every string that comes from a run ([`Esc`]), the number
//! formats, the style sheet and the table helpers.

use std::fmt::{self, Display, Write as _};

/// Text escaped for HTML element content and quoted attribute values (the
/// JUnit writer's XML too).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Esc<'a>(pub(crate) &'a str);

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
pub(crate) fn int(n: u64) -> String {
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
pub(crate) fn num(v: f64, decimals: usize) -> String {
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
pub(crate) fn ms(v: f64) -> String {
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
pub(crate) fn rate(v: f64) -> String {
    let decimals = if v.abs() < 10.0 { 2 } else { 1 };
    if v == 0.0 {
        "0".to_owned()
    } else {
        num(v, decimals)
    }
}

/// An RFC 3339 timestamp as `2025-01-31 12:00:00`.
pub(crate) fn when(ts: &str) -> String {
    ts.get(..19)
        .map_or_else(|| ts.to_owned(), |s| s.replacen('T', " ", 1))
}

/// A threshold value in its unit.
pub(crate) fn value(v: f64, unit: &str) -> String {
    match unit {
        "ms" => format!("{} ms", ms(v)),
        "%" => format!("{}%", num(v, 2)),
        "req/s" => format!("{} req/s", rate(v)),
        "" if v.fract() == 0.0 => num(v, 0),
        u => format!("{} {u}", num(v, 2)),
    }
}

/// The pages' style.
pub(crate) const CSS: &str = r#"
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

/// Opens a section with its heading (`sum`: a muted note beside it) and a
/// table; `heads` are separated by `|`, one starting with `>` is a
/// right-aligned number column.
pub(crate) fn open_table(
    out: &mut String,
    id: &str,
    title: &str,
    sum: &str,
    heads: &str,
) -> fmt::Result {
    let fit = match id {
        "thresholds" | "gates" => r#" class="fit""#,
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

pub(crate) const CLOSE_TABLE: &str = "</tbody></table></div></section>";

/// A table row from `(class, html)` cells.
pub(crate) fn tr<S: Display>(out: &mut String, cells: &[(&str, S)]) -> fmt::Result {
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
