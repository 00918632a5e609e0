//! XY line charts as inline SVG, for pages that plot one quantity against
//! another rather than against time: [`XyChart`] draws named [`Line`]s over
//! a linear x axis or a "nines" one ([`Scale`]: percentiles, 99 and 99.9 as
//! far apart as 90 and 99), a y axis from zero, nice ticks, gridlines and an
//! HTML legend, every name escaped. It also owns the axis helpers the run
//! report's time charts share ([`nice_step`], [`tick_label`], [`YAxis`]).
//! The page brings the CSS: the run report's, then [`CSS`].

use std::fmt::{self, Display, Write as _};

use super::page::Esc;

/// The rules a page with these charts adds to the run report's CSS: dashed
/// lines and their legend swatch, point markers, the x axis's unit.
pub const CSS: &str = r#"
.chart .line.dash{stroke-dasharray:6 4}.legend .dash i{background:repeating-linear-gradient(90deg,var(--c) 0 5px,transparent 5px 8px)}
.chart .dots{fill:none;stroke:var(--c);stroke-width:5;stroke-linecap:round}
.chart .xu{text-anchor:middle;font-weight:600}
"#;

const LEFT: f64 = 54.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 38.0;
/// Lines with at most this many points also get a dot at each point.
const MARKED: usize = 24;
/// The most nines the x axis labels (99.9999999999%).
const MAX_NINES: i32 = 12;

/// An SVG text element.
pub(crate) fn text(
    out: &mut String,
    class: &str,
    x: f64,
    y: f64,
    body: impl Display,
) -> fmt::Result {
    write!(
        out,
        r#"<text class="{class}" x="{x:.1}" y="{y:.1}">{body}</text>"#
    )
}

/// A rounded step giving at most about `target` steps up to `max`.
pub(crate) fn nice_step(max: f64, target: f64) -> f64 {
    let raw = (max / target).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = [1.0, 2.0, 2.5, 5.0].into_iter().find(|n| norm <= *n + 1e-9);
    nice.unwrap_or(10.0) * mag
}

/// A tick's label: as many decimals as the step needs, `12k` from 10,000.
pub(crate) fn tick_label(v: f64, step: f64) -> String {
    if v >= 10_000.0 {
        let decimals = usize::from((v / 1000.0).fract().abs() > 1e-9);
        return format!("{:.decimals$}k", v / 1000.0);
    }
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil().clamp(0.0, 6.0) as usize
    };
    format!("{v:.decimals$}")
}

/// A y axis from zero to a whole number of nice steps over the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct YAxis {
    /// Between gridlines.
    pub step: f64,
    /// The top of the plot.
    pub max: f64,
}

impl YAxis {
    /// About five steps up to `data_max`; `whole` steps (users) are integers.
    pub fn fit(data_max: f64, whole: bool) -> Self {
        let mut step = nice_step(if data_max > 0.0 { data_max } else { 1.0 }, 5.0);
        if whole {
            step = step.max(1.0).round();
        }
        let max = ((data_max / step).ceil() * step).max(step);
        Self { step, max }
    }

    /// Where `y` is drawn in a plot `top`..`top + ph` high (clamped to it).
    pub fn py(&self, y: f64, top: f64, ph: f64) -> f64 {
        top + ph - (y / self.max).clamp(0.0, 1.0) * ph
    }

    /// Gridlines, the baseline, value labels and `unit` above them, for a
    /// plot at (`left`, `top`) of `pw` x `ph`.
    pub fn write(
        &self,
        out: &mut String,
        unit: &str,
        at: (f64, f64),
        size: (f64, f64),
    ) -> fmt::Result {
        let ((left, top), (pw, ph)) = (at, size);
        let n = (self.max / self.step).round() as usize;
        out.push_str(r#"<path class="gl" d=""#);
        for i in 1..=n {
            write!(
                out,
                "M{left},{:.1}h{pw}",
                self.py(i as f64 * self.step, top, ph)
            )?;
        }
        let base = top + ph;
        write!(out, r#""/><path class="axis" d="M{left},{base:.1}h{pw}"/>"#)?;
        for v in (0..=n).map(|i| i as f64 * self.step) {
            let y = self.py(v, top, ph) + 3.5;
            text(out, "yl", left - 6.0, y, tick_label(v, self.step))?;
        }
        text(out, "yl unit", left - 6.0, 10.0, Esc(unit))
    }
}

/// How x values sit on the axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// As given (an arrival rate, users).
    Linear,
    /// x is a quantile q in 0..1, drawn at log10(1/(1-q)): 0 at 0, 90% at
    /// 1, 99% at 2, 99.9% at 3. A quantile of 1 (the max) cannot be drawn.
    Nines,
}

impl Scale {
    /// Where `x` is on the axis; `None` for what cannot be drawn (not
    /// finite; on nines, a quantile outside 0..1).
    pub fn position(self, x: f64) -> Option<f64> {
        match self {
            _ if !x.is_finite() => None,
            Scale::Linear => Some(x),
            Scale::Nines if (0.0..1.0).contains(&x) => Some(-(1.0 - x).log10()),
            Scale::Nines => None,
        }
    }
}

/// One line: its legend label, its colour class (`c-...` of the page's
/// palette), dashed or not, and its points (x in the chart's scale's terms).
#[derive(Debug, Clone)]
pub struct Line {
    /// Shown in the legend and as the line's tooltip (escaped).
    pub label: String,
    /// A class setting `--c`, the line's colour.
    pub class: &'static str,
    /// Drawn dashed.
    pub dashed: bool,
    /// (x, y) in data units; points that cannot be drawn are left out.
    pub points: Vec<(f64, f64)>,
}

impl Line {
    /// A solid line.
    pub fn new(label: impl Into<String>, class: &'static str, points: Vec<(f64, f64)>) -> Self {
        let label = label.into();
        Self {
            label,
            class,
            dashed: false,
            points,
        }
    }

    /// The same line, dashed.
    pub fn dashed(self) -> Self {
        Self {
            dashed: true,
            ..self
        }
    }
}

/// A line chart of y against x, in an SVG `width` x `height` box (default
/// 480 x 240) scaled to its container.
#[derive(Debug, Clone)]
pub struct XyChart {
    scale: Scale,
    x_unit: String,
    y_unit: String,
    x_range: Option<(f64, f64)>,
    lines: Vec<Line>,
    size: (f64, f64),
}

impl XyChart {
    /// An empty chart: x on `scale`, the axes' units as shown (`ms`).
    pub fn new(scale: Scale, x_unit: &str, y_unit: &str) -> Self {
        Self {
            scale,
            x_unit: x_unit.to_owned(),
            y_unit: y_unit.to_owned(),
            x_range: None,
            lines: Vec::new(),
            size: (480.0, 240.0),
        }
    }

    /// With `line` drawn over the earlier ones.
    pub fn line(mut self, line: Line) -> Self {
        self.lines.push(line);
        self
    }

    /// The x axis spans `lo..hi` (data units) instead of the data's own
    /// span, from 0 (linear) or the 0th percentile (nines) to the largest x;
    /// points outside it are left out.
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }

    /// The SVG box.
    pub fn size(mut self, width: f64, height: f64) -> Self {
        self.size = (width, height);
        self
    }

    /// A line's drawable points as axis positions, in order.
    fn positions(&self, line: &Line) -> impl Iterator<Item = (f64, f64)> {
        let at =
            |&(x, y): &(f64, f64)| Some((self.scale.position(x)?, y)).filter(|_| y.is_finite());
        line.points.iter().filter_map(at)
    }

    /// The x axis's span, in axis positions.
    fn span(&self) -> (f64, f64) {
        let given = self.x_range.and_then(|(lo, hi)| {
            let (lo, hi) = (self.scale.position(lo)?, self.scale.position(hi)?);
            (hi > lo).then_some((lo, hi))
        });
        if let Some(span) = given {
            return span;
        }
        let xs = self.lines.iter().flat_map(|l| self.positions(l));
        let hi = xs.map(|(x, _)| x).fold(0.0, f64::max);
        match self.scale {
            _ if hi > 0.0 => (0.0, hi),
            Scale::Linear => (0.0, 1.0),
            Scale::Nines => (0.0, 2.0),
        }
    }

    /// The x ticks: axis position and label. Linear: nice steps; nines: 50%,
    /// 90%, 99%, 99.9% ... as far as the axis reaches.
    pub fn x_ticks(&self) -> Vec<(f64, String)> {
        let (lo, hi) = self.span();
        match self.scale {
            Scale::Linear => {
                let step = nice_step(hi - lo, ((self.size.0 - LEFT - RIGHT) / 90.0).max(2.0));
                let first = (lo / step - 1e-9).ceil() as i64;
                let last = (hi / step + 1e-9).floor() as i64;
                (first..=last)
                    .map(|i| (i as f64 * step, tick_label(i as f64 * step, step)))
                    .collect()
            }
            Scale::Nines => {
                let half = (0.5f64, "50%".to_owned());
                let nines = (1..=MAX_NINES).map(|k| {
                    let decimals = (k - 2).max(0) as usize;
                    let q = 1.0 - 10f64.powi(-k);
                    (q, format!("{:.decimals$}%", q * 100.0))
                });
                std::iter::once(half)
                    .chain(nines)
                    .filter_map(|(q, label)| Some((self.scale.position(q)?, label)))
                    .filter(|(x, _)| *x >= lo - 1e-9 && *x <= hi + 1e-9)
                    .collect()
            }
        }
    }

    /// The SVG element, `label` naming it for screen readers.
    ///
    /// # Errors
    ///
    /// Only those of writing into `out` (none for a `String`).
    pub fn write_svg(&self, out: &mut String, label: &str) -> fmt::Result {
        let (w, h) = self.size;
        let (pw, ph) = (w - LEFT - RIGHT, h - TOP - BOTTOM);
        let (lo, hi) = self.span();
        // Points outside a given x range are clipped, not pulled to its edge.
        let inside = |p: &(f64, f64)| p.0 >= lo - 1e-9 && p.0 <= hi + 1e-9;
        let lines: Vec<Vec<(f64, f64)>> = self
            .lines
            .iter()
            .map(|l| self.positions(l).filter(inside).collect())
            .collect();
        let y_max = lines.iter().flatten().map(|p| p.1).fold(0.0, f64::max);
        let y = YAxis::fit(y_max, false);
        let px = |x: f64| LEFT + ((x - lo) / (hi - lo)).clamp(0.0, 1.0) * pw;
        let py = |v: f64| y.py(v, TOP, ph);
        out.push_str(r#"<svg class="chart" role="img" "#);
        write!(out, r#"viewBox="0 0 {w} {h}" aria-label="{}">"#, Esc(label))?;
        y.write(out, &self.y_unit, (LEFT, TOP), (pw, ph))?;
        let base = TOP + ph;
        let mut ticks = String::new();
        for (x, label) in self.x_ticks() {
            write!(ticks, "M{:.1},{base:.1}v4", px(x))?;
            text(out, "xl", px(x), base + 16.0, Esc(&label))?;
        }
        write!(out, r#"<path class="axis" d="{ticks}"/>"#)?;
        text(out, "xu", LEFT + pw / 2.0, h - 4.0, Esc(&self.x_unit))?;
        for (line, points) in self.lines.iter().zip(&lines) {
            let dash = if line.dashed { " dash" } else { "" };
            let mut d = String::new();
            for (i, (x, v)) in points.iter().enumerate() {
                let m = if i == 0 { "M" } else { " " };
                write!(d, "{m}{:.1},{:.1}", px(*x), py(*v))?;
            }
            if points.len() == 1 {
                d.push_str("h0");
            }
            let (class, title) = (line.class, Esc(&line.label));
            write!(
                out,
                r#"<path class="line {class}{dash}" d="{d}"><title>{title}</title></path>"#
            )?;
            if !points.is_empty() && points.len() <= MARKED {
                out.push_str(r#"<path class="dots "#);
                write!(out, r#"{class}" d=""#)?;
                for (x, v) in points {
                    write!(out, "M{:.1},{:.1}h0", px(*x), py(*v))?;
                }
                out.push_str(r#""/>"#);
            }
        }
        out.push_str("</svg>");
        Ok(())
    }

    /// The chart in a figure: `title` (escaped) and the legend above it,
    /// `caption` (HTML, escaped by the caller) below.
    ///
    /// # Errors
    ///
    /// Only those of writing into `out` (none for a `String`).
    pub fn write_figure(&self, out: &mut String, title: &str, caption: &str) -> fmt::Result {
        let head = r#"<figure class="fig"><div class="fig-head"><h3>"#;
        write!(out, r#"{head}{}</h3><div class="legend">"#, Esc(title))?;
        for l in &self.lines {
            let dash = if l.dashed { " dash" } else { "" };
            let (class, label) = (l.class, Esc(&l.label));
            write!(out, r#"<span class="{class}{dash}"><i></i>{label}</span>"#)?;
        }
        out.push_str("</div></div>");
        self.write_svg(out, title)?;
        write!(out, "<figcaption>{caption}</figcaption></figure>")
    }
}

#[cfg(test)]
#[path = "plot_tests.rs"]
mod tests;
