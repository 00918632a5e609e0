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

use super::{Esc, JsonReport, Percentiles};

/// Most points one chart line gets.
pub(super) const MAX_POINTS: usize = 600;

/// Consecutive history ticks grouped into chart points.
#[derive(Debug)]
pub(super) struct Buckets {
    groups: Vec<Range<usize>>,
    /// x of each point: mean tick time of the group, seconds since the start.
    pub xs: Vec<f64>,
    /// Seconds per bucket; 0 when every tick is its own point.
    pub width_s: f64,
}

impl Buckets {
    /// Buckets over tick `times` (seconds, ascending) giving at most `max` points.
    pub fn new(times: &[f64], max: usize) -> Self {
        let max = max.max(1);
        let (first, last) = match (times.first(), times.last()) {
            (Some(f), Some(l)) => (*f, *l),
            _ => return Self { groups: Vec::new(), xs: Vec::new(), width_s: 0.0 },
        };
        let mut groups: Vec<Range<usize>> = Vec::new();
        let width_s = if times.len() <= max { 0.0 } else { (last - first).max(1e-9) / max as f64 };
        let mut key_of_last = usize::MAX;
        for (i, t) in times.iter().enumerate() {
            let key = if width_s > 0.0 { (((t - first) / width_s).max(0.0) as usize).min(max - 1) } else { i };
            match groups.last_mut() {
                Some(g) if key == key_of_last => g.end = i + 1,
                _ => groups.push(i..i + 1),
            }
            key_of_last = key;
        }
        let xs = groups.iter().map(|g| times[g.clone()].iter().sum::<f64>() / g.len() as f64).collect();
        Self { groups, xs, width_s }
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
        self.groups
            .iter()
            .map(|g| {
                known.clear();
                known.extend(v.get(g.clone()).unwrap_or_default().iter().flatten().filter(|x| x.is_finite()));
                (!known.is_empty()).then(|| f(&known))
            })
            .collect()
    }
}

/// One line of a chart; `class` picks its colour from the page's palette.
#[derive(Debug)]
pub(super) struct Series {
    pub label: &'static str,
    pub class: &'static str,
    pub ys: Vec<Option<f64>>,
    pub area: bool,
}

/// A chart: the lines over shared x values, in a `width` x `height` box.
#[derive(Debug)]
pub(super) struct Chart<'a> {
    pub xs: &'a [f64],
    pub x_max: f64,
    pub unit: &'static str,
    pub integer: bool,
    pub series: Vec<Series>,
    pub width: f64,
    pub height: f64,
}

const LEFT: f64 = 50.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 24.0;

/// A rounded step giving about `target` steps up to `max`.
pub(super) fn nice_step(max: f64, target: f64) -> f64 {
    let raw = (max / target).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = [1.0, 2.0, 2.5, 5.0].into_iter().find(|n| norm <= *n + 1e-9).unwrap_or(10.0);
    nice * mag
}

/// `m:ss`, or `h:mm:ss` from an hour on.
pub(super) fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 { format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) } else { format!("{:02}:{:02}", s / 60, s % 60) }
}

fn tick_label(v: f64, step: f64) -> String {
    if v >= 10_000.0 {
        let k = v / 1000.0;
        return if (k - k.round()).abs() < 1e-9 { format!("{k:.0}k") } else { format!("{k:.1}k") };
    }
    let decimals = if step >= 1.0 { 0 } else { (-step.log10()).ceil().clamp(0.0, 6.0) as usize };
    format!("{v:.decimals$}")
}

impl Chart<'_> {
    /// The SVG element, `label` naming it for screen readers.
    pub fn svg(&self, label: &str) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_svg(&mut out, label);
        out
    }

    fn write_svg(&self, out: &mut String, label: &str) -> fmt::Result {
        let (w, h) = (self.width, self.height);
        let (pw, ph) = (w - LEFT - RIGHT, h - TOP - BOTTOM);
        let data_max = self.series.iter().flat_map(|s| s.ys.iter().flatten()).copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
        let mut step = nice_step(if data_max > 0.0 { data_max } else { 1.0 }, 4.0);
        if self.integer {
            step = step.max(1.0).round();
        }
        let y_max = ((data_max / step).ceil() * step).max(step);
        let x_max = self.x_max.max(1.0);
        let px = |x: f64| LEFT + (x / x_max).clamp(0.0, 1.0) * pw;
        let py = |y: f64| TOP + ph - (y / y_max).clamp(0.0, 1.0) * ph;
        write!(out, r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}">"#, Esc(label))?;
        let n_y = (y_max / step).round() as usize;
        out.push_str(r#"<path class="gl" d=""#);
        for i in 1..=n_y {
            write!(out, "M{LEFT},{:.1}h{pw}", py(i as f64 * step))?;
        }
        write!(out, r#""/><path class="axis" d="M{LEFT},{:.1}h{pw}"/>"#, TOP + ph)?;
        for i in 0..=n_y {
            let v = i as f64 * step;
            write!(out, r#"<text class="yl" x="{:.1}" y="{:.1}">{}</text>"#, LEFT - 6.0, py(v) + 3.5, tick_label(v, step))?;
        }
        let x_steps = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 21600.0, 43200.0, 86400.0];
        let want = (pw / 85.0).floor().max(2.0);
        let x_step = x_steps.into_iter().find(|s| x_max / s <= want).unwrap_or(x_max / want);
        let mut ticks = String::new();
        let mut x = 0.0;
        while x <= x_max + 1e-9 {
            write!(ticks, "M{:.1},{:.1}v4", px(x), TOP + ph)?;
            write!(out, r#"<text class="xl" x="{:.1}" y="{:.1}">{}</text>"#, px(x), h - 6.0, clock(x))?;
            x += x_step;
        }
        write!(out, r#"<path class="axis" d="{ticks}"/><text class="unit" x="{LEFT}" y="11">{}</text>"#, self.unit)?;
        for s in &self.series {
            let segments = self.segments(&s.ys);
            if s.area {
                out.push_str(r#"<path class="area "#);
                out.push_str(s.class);
                out.push_str(r#"" d=""#);
                for seg in &segments {
                    let (Some(&(x0, _)), Some(&(x1, _))) = (seg.first(), seg.last()) else { continue };
                    write!(out, "M{:.1},{:.1}", px(x0), py(0.0))?;
                    for (x, y) in seg {
                        write!(out, " {:.1},{:.1}", px(*x), py(*y))?;
                    }
                    write!(out, " {:.1},{:.1}Z", px(x1), py(0.0))?;
                }
                out.push_str(r#""/>"#);
            }
            write!(out, r#"<path class="line {}" d=""#, s.class)?;
            for seg in &segments {
                for (i, (x, y)) in seg.iter().enumerate() {
                    write!(out, "{}{:.1},{:.1}", if i == 0 { "M" } else { " " }, px(*x), py(*y))?;
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
            match y.filter(|v| v.is_finite()) {
                Some(y) if open => {
                    if let Some(seg) = out.last_mut() {
                        seg.push((*x, y));
                    }
                }
                Some(y) => {
                    out.push(vec![(*x, y)]);
                    open = true;
                }
                None => open = false,
            }
        }
        out
    }
}

/// One chart with its heading, legend and caption.
fn figure(out: &mut String, title: &str, caption: &str, chart: &Chart<'_>, wide: bool) -> fmt::Result {
    write!(out, r#"<figure class="fig{}"><div class="fig-head"><h3>{}</h3><div class="legend">"#, if wide { " wide" } else { "" }, Esc(title))?;
    for s in &chart.series {
        write!(out, r#"<span class="{}"><i></i>{}</span>"#, s.class, s.label)?;
    }
    write!(out, "</div></div>{}<figcaption>{caption}</figcaption></figure>", chart.svg(title))
}

/// Unix ms of the run start, or one second before the first tick.
fn start_ms(r: &JsonReport) -> i64 {
    humantime::parse_rfc3339(&r.run.started)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .or_else(|| r.history.first().map(|t| t.unix_ms - 1000))
        .unwrap_or(0)
}

fn pct(p: &Percentiles) -> [f64; 3] {
    [p.p50, p.p95, p.p99]
}

/// The charts section: totals, response times, users, then one chart per endpoint.
pub(super) fn write_charts(out: &mut String, r: &JsonReport) -> fmt::Result {
    out.push_str(r#"<section id="charts"><h2>Charts</h2>"#);
    if r.history.is_empty() {
        out.push_str(r#"<p class="empty">No history was recorded: the run was too short.</p></section>"#);
        return Ok(());
    }
    let t0 = start_ms(r);
    let times: Vec<f64> = r.history.iter().map(|t| ((t.unix_ms - t0) as f64 / 1000.0).max(0.0)).collect();
    let x_max = times.last().copied().unwrap_or(0.0).max(r.run.duration_s);
    let b = Buckets::new(&times, MAX_POINTS);
    let how = if b.width_s > 0.0 {
        format!("Each point covers {:.1} s of the run ({} ticks bucketed into {} points): ", b.width_s, times.len(), b.xs.len())
    } else {
        format!("One point per history tick ({} ticks): ", times.len())
    };
    let caption_rates = format!("{how}rates are the bucket mean.");
    let caption_rt = format!("{how}response times are the bucket maximum; gaps are buckets without requests.");
    let has_req: Vec<bool> = r.history.iter().map(|t| t.endpoints.iter().any(|e| e.requests > 0) || t.rps > 0.0).collect();
    let col = |f: &dyn Fn(usize) -> f64, only_req: bool| -> Vec<Option<f64>> {
        (0..r.history.len()).map(|i| (!only_req || has_req[i]).then(|| f(i))).collect()
    };
    let h = &r.history;
    out.push_str(r#"<div class="charts">"#);
    let rps = Chart {
        xs: &b.xs,
        x_max,
        unit: "req/s",
        integer: false,
        series: vec![
            Series { label: "requests/s", class: "c-rps", ys: b.mean(&col(&|i| h[i].rps, false)), area: true },
            Series { label: "failures/s", class: "c-fail", ys: b.mean(&col(&|i| h[i].failures_per_s, false)), area: true },
        ],
        width: 960.0,
        height: 250.0,
    };
    figure(out, "Total requests per second", &caption_rates, &rps, true)?;
    let rt = |i: usize, k: usize| pct(&h[i].percentiles_ms)[k];
    let latency = Chart {
        xs: &b.xs,
        x_max,
        unit: "ms",
        integer: false,
        series: vec![
            Series { label: "p50", class: "c-p50", ys: b.max(&col(&|i| rt(i, 0), true)), area: false },
            Series { label: "p95", class: "c-p95", ys: b.max(&col(&|i| rt(i, 1), true)), area: false },
            Series { label: "p99", class: "c-p99", ys: b.max(&col(&|i| rt(i, 2), true)), area: false },
        ],
        width: 960.0,
        height: 250.0,
    };
    figure(out, "Response times", &caption_rt, &latency, true)?;
    let users = Chart {
        xs: &b.xs,
        x_max,
        unit: "users",
        integer: true,
        series: vec![Series { label: "users", class: "c-users", ys: b.max(&col(&|i| h[i].users as f64, false)), area: true }],
        width: 960.0,
        height: 180.0,
    };
    figure(out, "Users", &format!("{how}users are the bucket maximum."), &users, true)?;
    out.push_str("</div>");
    write_endpoint_charts(out, r, &times, x_max)?;
    out.push_str("</section>");
    Ok(())
}

/// Small multiples: p50/p95/p99 of each endpoint over time.
fn write_endpoint_charts(out: &mut String, r: &JsonReport, times: &[f64], x_max: f64) -> fmt::Result {
    if r.stats.is_empty() {
        return Ok(());
    }
    let index: HashMap<(&str, &str), usize> =
        r.stats.iter().enumerate().map(|(i, e)| ((e.method.as_str(), e.name.as_str()), i)).collect();
    // Per endpoint, per percentile, per tick.
    let mut cols = vec![[vec![None; times.len()], vec![None; times.len()], vec![None; times.len()]]; r.stats.len()];
    for (t, tick) in r.history.iter().enumerate() {
        for e in tick.endpoints.iter().filter(|e| e.requests > 0) {
            let Some(&i) = index.get(&(e.method.as_str(), e.name.as_str())) else { continue };
            for (k, v) in pct(&e.percentiles_ms).into_iter().enumerate() {
                cols[i][k][t] = Some(v);
            }
        }
    }
    const WIDTH: f64 = 480.0;
    let b = Buckets::new(times, MAX_POINTS.min((WIDTH - LEFT - RIGHT) as usize));
    let how = if b.width_s > 0.0 { format!("{:.1} s buckets, maximum per bucket", b.width_s) } else { "one point per tick".to_owned() };
    write!(out, r#"<h3 class="sub">Response times per endpoint</h3><p class="note">p50, p95 and p99 of each endpoint, {how}.</p><div class="charts grid">"#)?;
    for (e, [p50, p95, p99]) in r.stats.iter().zip(&cols) {
        let chart = Chart {
            xs: &b.xs,
            x_max,
            unit: "ms",
            integer: false,
            series: vec![
                Series { label: "p50", class: "c-p50", ys: b.max(p50), area: false },
                Series { label: "p95", class: "c-p95", ys: b.max(p95), area: false },
                Series { label: "p99", class: "c-p99", ys: b.max(p99), area: false },
            ],
            width: WIDTH,
            height: 220.0,
        };
        let title = format!("{} {}", e.method, e.name);
        let caption = format!("{} requests, {} failures", super::int(e.requests), super::int(e.failures));
        figure(out, &title, &Esc(&caption).to_string(), &chart, false)?;
    }
    out.push_str("</div>");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cap_points_and_aggregate() {
        let times: Vec<f64> = (1..=3600).map(f64::from).collect();
        let b = Buckets::new(&times, 600);
        assert!(b.xs.len() <= 600 && b.xs.len() >= 590, "{}", b.xs.len());
        let v: Vec<Option<f64>> = times.iter().map(|t| Some(*t)).collect();
        let mx = b.max(&v);
        assert_eq!(mx.last().copied().flatten(), Some(3600.0));
        let few = Buckets::new(&times[..10], 600);
        assert_eq!(few.xs.len(), 10);
        assert_eq!(few.mean(&[None; 10])[0], None);
    }

    #[test]
    fn steps_and_clock() {
        assert_eq!(nice_step(1000.0, 4.0), 250.0);
        assert_eq!(nice_step(7.0, 4.0), 2.0);
        assert_eq!(clock(75.0), "01:15");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
