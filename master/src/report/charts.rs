//! The charts of the HTML report: hand-drawn inline SVG (axes, tick labels,
//! gridlines, an HTML legend) over the run's history, time on the x axis as
//! mm:ss since the start. The history is bucketed by time to at most
//! [`MAX_POINTS`] points per chart (rates averaged, response times and users
//! the bucket's maximum) and coordinates are written with one decimal, so a
//! long run's report stays small. The full history is never embedded.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::ops::Range;
use std::time::UNIX_EPOCH;

use super::{Esc, int};
use crate::report::json::{Endpoint, JsonReport, Percentiles, Tick};
use crate::report::plot::{YAxis, text};

/// Most points one chart line gets.
pub(super) const MAX_POINTS: usize = 600;

const LEFT: f64 = 50.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 24.0;
const SMALL_WIDTH: f64 = 480.0;
/// Steps of the time axis, in seconds.
const X_STEPS: [f64; 18] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    14400.0, 21600.0, 43200.0, 86400.0,
];

/// Consecutive history ticks grouped into chart points.
#[derive(Debug)]
pub(super) struct Buckets {
    groups: Vec<Range<usize>>,
    /// x of each point: mean tick time of the group, seconds since the start.
    xs: Vec<f64>,
    /// Seconds per bucket; 0 when every tick is its own point.
    width_s: f64,
}

impl Buckets {
    /// Buckets over tick `times` (seconds, ascending) giving at most `max` points.
    pub fn new(times: &[f64], max: usize) -> Self {
        let max = max.max(1);
        let (first, last) = (times.first().copied(), times.last().copied());
        let (first, last) = (first.unwrap_or(0.0), last.unwrap_or(0.0));
        let width_s = if times.len() <= max {
            0.0
        } else {
            (last - first).max(1e-9) / max as f64
        };
        let mut groups: Vec<Range<usize>> = Vec::new();
        let mut last_key = usize::MAX;
        for (i, t) in times.iter().enumerate() {
            let key = match width_s > 0.0 {
                true => (((t - first) / width_s).max(0.0) as usize).min(max - 1),
                false => i,
            };
            match groups.last_mut() {
                Some(g) if key == last_key => g.end = i + 1,
                _ => groups.push(i..i + 1),
            }
            last_key = key;
        }
        let mean = |g: &Range<usize>| times[g.clone()].iter().sum::<f64>() / g.len() as f64;
        let xs = groups.iter().map(mean).collect();
        Self {
            groups,
            xs,
            width_s,
        }
    }

    /// Mean of the known values of each bucket.
    pub fn mean(&self, v: &[Option<f64>]) -> Vec<Option<f64>> {
        self.fold(v, |s| s.iter().sum::<f64>() / s.len() as f64)
    }

    /// Maximum of the known values of each bucket.
    pub fn max(&self, v: &[Option<f64>]) -> Vec<Option<f64>> {
        self.fold(v, |s| s.iter().copied().fold(f64::MIN, f64::max))
    }

    fn fold(&self, v: &[Option<f64>], f: impl Fn(&[f64]) -> f64) -> Vec<Option<f64>> {
        let mut known = Vec::new();
        let mut one = |g: &Range<usize>| {
            known.clear();
            let values = v.get(g.clone()).unwrap_or_default().iter().flatten();
            known.extend(values.filter(|x| x.is_finite()));
            (!known.is_empty()).then(|| f(&known))
        };
        self.groups.iter().map(&mut one).collect()
    }
}

/// One line of a chart; `class` picks its colour from the page's palette.
#[derive(Debug)]
struct Series {
    label: &'static str,
    class: &'static str,
    ys: Vec<Option<f64>>,
    area: bool,
}

fn line(label: &'static str, class: &'static str, ys: Vec<Option<f64>>) -> Series {
    let area = false;
    Series {
        label,
        class,
        ys,
        area,
    }
}

fn area(label: &'static str, class: &'static str, ys: Vec<Option<f64>>) -> Series {
    let area = true;
    Series {
        area,
        ..line(label, class, ys)
    }
}

/// p50, p95 and p99 lines from per-tick columns, each the bucket maximum.
fn percentile_lines(b: &Buckets, cols: &[Vec<Option<f64>>; 3]) -> Vec<Series> {
    let [p50, p95, p99] = cols;
    vec![
        line("p50", "c-p50", b.max(p50)),
        line("p95", "c-p95", b.max(p95)),
        line("p99", "c-p99", b.max(p99)),
    ]
}

/// A chart: lines over shared x values (seconds), in a `width` x `height` box.
#[derive(Debug)]
struct Chart<'a> {
    xs: &'a [f64],
    x_max: f64,
    unit: &'static str,
    series: Vec<Series>,
    width: f64,
    height: f64,
}

/// `mm:ss`, or `h:mm:ss` from an hour on.
fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s >= 3600 {
        true => format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
        false => format!("{:02}:{:02}", s / 60, s % 60),
    }
}

impl<'a> Chart<'a> {
    fn new(
        xs: &'a [f64],
        x_max: f64,
        unit: &'static str,
        series: Vec<Series>,
        size: (f64, f64),
    ) -> Self {
        let (width, height) = size;
        Self {
            xs,
            x_max,
            unit,
            series,
            width,
            height,
        }
    }

    /// The SVG element, `label` naming it for screen readers.
    fn write_svg(&self, out: &mut String, label: &str) -> fmt::Result {
        let (w, h) = (self.width, self.height);
        let (pw, ph) = (w - LEFT - RIGHT, h - TOP - BOTTOM);
        let all = self.series.iter().flat_map(|s| s.ys.iter().flatten());
        let data_max = all.copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
        let y = YAxis::fit(data_max, self.unit == "users");
        let x_max = self.x_max.max(1.0);
        let px = |x: f64| LEFT + (x / x_max).clamp(0.0, 1.0) * pw;
        let py = |v: f64| y.py(v, TOP, ph);
        out.push_str(r#"<svg class="chart" role="img" "#);
        write!(out, r#"viewBox="0 0 {w} {h}" aria-label="{}">"#, Esc(label))?;
        y.write(out, self.unit, (LEFT, TOP), (pw, ph))?;
        let base = TOP + ph;
        // Time ticks and labels.
        let want = (pw / 80.0).round().max(2.0);
        let x_step = X_STEPS.into_iter().find(|s| x_max / s <= want);
        let x_step = x_step.unwrap_or(x_max / want);
        let mut ticks = String::new();
        let mut x = 0.0;
        while x <= x_max + 1e-9 {
            write!(ticks, "M{:.1},{base:.1}v4", px(x))?;
            text(out, "xl", px(x), h - 6.0, clock(x))?;
            x += x_step;
        }
        write!(out, r#"<path class="axis" d="{ticks}"/>"#)?;
        // Highest percentile first, so a lower one stays visible where they meet.
        for s in self.series.iter().rev() {
            let segments = self.segments(&s.ys);
            if s.area {
                write!(out, r#"<path class="area {}" d=""#, s.class)?;
                for seg in &segments {
                    let (Some(first), Some(last)) = (seg.first(), seg.last()) else {
                        continue;
                    };
                    write!(out, "M{:.1},{:.1}", px(first.0), py(0.0))?;
                    for (x, y) in seg {
                        write!(out, " {:.1},{:.1}", px(*x), py(*y))?;
                    }
                    write!(out, " {:.1},{:.1}Z", px(last.0), py(0.0))?;
                }
                out.push_str(r#""/>"#);
            }
            write!(out, r#"<path class="line {}" d=""#, s.class)?;
            for seg in &segments {
                for (i, (x, y)) in seg.iter().enumerate() {
                    let m = if i == 0 { "M" } else { " " };
                    write!(out, "{m}{:.1},{:.1}", px(*x), py(*y))?;
                }
                if seg.len() == 1 {
                    out.push_str("h0");
                }
            }
            write!(out, r#""><title>{}</title></path>"#, s.label)?;
        }
        out.push_str("</svg>");
        Ok(())
    }

    /// Runs of consecutive known points: a bucket without data breaks the line.
    fn segments(&self, ys: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
        let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut open = false;
        for (x, y) in self.xs.iter().zip(ys) {
            match (y.filter(|v| v.is_finite()), out.last_mut()) {
                (Some(y), Some(seg)) if open => seg.push((*x, y)),
                (Some(y), _) => out.push(vec![(*x, y)]),
                (None, _) => {}
            }
            open = y.is_some_and(f64::is_finite);
        }
        out
    }

    /// The chart in a figure with its heading, legend and `caption` (HTML).
    fn write_figure(&self, out: &mut String, title: &str, caption: &str) -> fmt::Result {
        let head = r#"<figure class="fig"><div class="fig-head"><h3>"#;
        write!(out, r#"{head}{}</h3><div class="legend">"#, Esc(title))?;
        for s in &self.series {
            let (class, label) = (s.class, s.label);
            write!(out, r#"<span class="{class}"><i></i>{label}</span>"#)?;
        }
        out.push_str("</div></div>");
        self.write_svg(out, title)?;
        write!(out, "<figcaption>{caption}</figcaption></figure>")
    }
}

/// Unix ms of the run start, or one second before the first tick.
fn start_ms(r: &JsonReport) -> i64 {
    let started = humantime::parse_rfc3339(&r.run.started).ok();
    let since_epoch = started.and_then(|t| t.duration_since(UNIX_EPOCH).ok());
    let first_tick = r.history.first().map(|t| t.unix_ms - 1000);
    let start = since_epoch.map(|d| d.as_millis() as i64);
    start.or(first_tick).unwrap_or(0)
}

fn pct(p: &Percentiles) -> [f64; 3] {
    [p.p50, p.p95, p.p99]
}

/// How the points were made, for the captions.
fn bucketing(b: &Buckets, ticks: usize) -> String {
    match b.width_s > 0.0 {
        true => format!(
            "Each point covers {:.1} s of the run ({ticks} ticks bucketed into {} points): ",
            b.width_s,
            b.xs.len()
        ),
        false => format!("One point per history tick ({ticks} ticks): "),
    }
}

/// The charts section: totals, response times, users, then one chart per endpoint.
pub(super) fn write_charts(out: &mut String, r: &JsonReport) -> fmt::Result {
    out.push_str(r#"<section id="charts"><h2>Charts</h2>"#);
    if r.history.is_empty() {
        let note = "No history was recorded: the run was too short.";
        return write!(out, r#"<p class="empty">{note}</p></section>"#);
    }
    let h = &r.history;
    let t0 = start_ms(r);
    let times: Vec<f64> = h
        .iter()
        .map(|t| ((t.unix_ms - t0) as f64 / 1000.0).max(0.0))
        .collect();
    let x_max = times.last().copied().unwrap_or(0.0).max(r.run.duration_s);
    let b = Buckets::new(&times, MAX_POINTS);
    let how = bucketing(&b, times.len());
    let col = |f: &dyn Fn(usize) -> f64| (0..h.len()).map(|i| Some(f(i))).collect::<Vec<_>>();
    // Response times only where the tick saw requests; elsewhere the line breaks.
    let rt_col = |k: usize| -> Vec<Option<f64>> {
        let seen = |t: &Tick| t.rps > 0.0 || t.endpoints.iter().any(|e| e.requests > 0);
        h.iter()
            .map(|t| seen(t).then(|| pct(&t.percentiles_ms)[k]))
            .collect()
    };
    let chart = |unit, series, height| Chart::new(&b.xs, x_max, unit, series, (960.0, height));
    out.push_str(r#"<div class="charts">"#);
    let rps = vec![
        area("requests/s", "c-rps", b.mean(&col(&|i| h[i].rps))),
        area(
            "failures/s",
            "c-fail",
            b.mean(&col(&|i| h[i].failures_per_s)),
        ),
    ];
    let caption = format!("{how}rates are the bucket mean.");
    chart("req/s", rps, 250.0).write_figure(out, "Total requests per second", &caption)?;
    let rt = percentile_lines(&b, &[rt_col(0), rt_col(1), rt_col(2)]);
    let caption = format!("{how}response times are the bucket maximum; gaps have no requests.");
    chart("ms", rt, 250.0).write_figure(out, "Response times (all requests)", &caption)?;
    let mut users = vec![area(
        "users",
        "c-users",
        b.max(&col(&|i| h[i].users as f64)),
    )];
    if h.iter().any(|t| t.target_users > 0) {
        users.push(line(
            "target",
            "c-target",
            b.max(&col(&|i| h[i].target_users as f64)),
        ));
    }
    let caption = format!("{how}running and target users are the bucket maximum.");
    chart("users", users, 180.0).write_figure(out, "Users", &caption)?;
    if h.iter().any(|t| t.target_rate.is_some()) {
        let its = vec![
            area(
                "iterations/s",
                "c-rps",
                b.mean(&col(&|i| h[i].iterations_per_s)),
            ),
            area(
                "dropped/s",
                "c-fail",
                b.mean(&col(&|i| h[i].dropped_iterations_per_s)),
            ),
            line(
                "target",
                "c-target",
                b.mean(&h.iter().map(|t| t.target_rate).collect::<Vec<_>>()),
            ),
        ];
        let caption = format!(
            "{how}the open model: iterations completed and dropped per second against the target rate."
        );
        chart("it/s", its, 200.0).write_figure(out, "Iterations per second", &caption)?;
    }
    out.push_str("</div>");
    write_endpoint_charts(out, r, &times, x_max)?;
    out.push_str("</section>");
    Ok(())
}

/// Small multiples: p50/p95/p99 of each endpoint over time.
fn write_endpoint_charts(
    out: &mut String,
    r: &JsonReport,
    times: &[f64],
    x_max: f64,
) -> fmt::Result {
    if r.stats.is_empty() {
        return Ok(());
    }
    fn key(e: &Endpoint) -> (&str, &str) {
        (e.method.as_str(), e.name.as_str())
    }
    let index: HashMap<(&str, &str), usize> = r
        .stats
        .iter()
        .enumerate()
        .map(|(i, e)| (key(e), i))
        .collect();
    // Per endpoint, per percentile, per tick.
    let empty = vec![None; times.len()];
    let mut cols = vec![[empty.clone(), empty.clone(), empty]; r.stats.len()];
    for (t, tick) in r.history.iter().enumerate() {
        for e in tick.endpoints.iter().filter(|e| e.requests > 0) {
            let Some(&i) = index.get(&(e.method.as_str(), e.name.as_str())) else {
                continue;
            };
            for (k, v) in pct(&e.percentiles_ms).into_iter().enumerate() {
                cols[i][k][t] = Some(v);
            }
        }
    }
    let b = Buckets::new(times, MAX_POINTS.min((SMALL_WIDTH - LEFT - RIGHT) as usize));
    let how = match b.width_s > 0.0 {
        true => format!("{:.1} s buckets, maximum per bucket", b.width_s),
        false => "one point per tick".to_owned(),
    };
    let note = format!("p50, p95 and p99 of each endpoint, {how}.");
    out.push_str(r#"<h3 class="sub">Response times per endpoint</h3>"#);
    write!(out, r#"<p class="note">{note}</p>"#)?;
    out.push_str(r#"<div class="charts grid">"#);
    for (e, cols) in r.stats.iter().zip(&cols) {
        let series = percentile_lines(&b, cols);
        let chart = Chart::new(&b.xs, x_max, "ms", series, (SMALL_WIDTH, 220.0));
        let caption = format!("{} requests, {} failures", int(e.requests), int(e.failures));
        chart.write_figure(out, &format!("{} {}", e.method, e.name), &caption)?;
    }
    out.push_str("</div>");
    Ok(())
}
