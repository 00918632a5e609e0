//! The XY chart: ticks on both scales, every point inside the plot, names
//! escaped.

use super::*;

const W: f64 = 480.0;
const H: f64 = 240.0;

/// The quantiles 0, 0.1 .. up to `top`, with y the rank in ms.
fn quantiles(top: f64) -> Vec<(f64, f64)> {
    let mut qs: Vec<(f64, f64)> = (0..10).map(|i| (i as f64 / 10.0, i as f64)).collect();
    qs.push((top, 100.0));
    qs
}

fn labels(c: &XyChart) -> Vec<String> {
    c.x_ticks().into_iter().map(|t| t.1).collect()
}

/// Every point of the lines and dots of `svg`, as drawn.
fn drawn(svg: &str) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for part in svg.split("<path class=\"").skip(1) {
        if !(part.starts_with("line ") || part.starts_with("dots ")) {
            continue;
        }
        let d = part
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        for point in d.split(['M', ' ']).filter(|p| !p.is_empty()) {
            let point = point.trim_end_matches("h0");
            let (x, y) = point.split_once(',').unwrap();
            out.push((x.parse().unwrap(), y.parse().unwrap()));
        }
    }
    out
}

#[test]
fn nines_ticks_reach_as_far_as_the_data() {
    let chart = |top| {
        XyChart::new(Scale::Nines, "percentile", "ms").line(Line::new("a", "c-new", quantiles(top)))
    };
    assert_eq!(labels(&chart(0.999)), ["50%", "90%", "99%", "99.9%"]);
    assert_eq!(
        labels(&chart(0.99999)),
        ["50%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
    );
    assert_eq!(labels(&chart(0.995)), ["50%", "90%", "99%"]);
    let at: Vec<f64> = chart(0.999).x_ticks().into_iter().map(|t| t.0).collect();
    for (x, want) in at.iter().zip([2f64.log10(), 1.0, 2.0, 3.0]) {
        assert!((x - want).abs() < 1e-9, "{at:?}");
    }
    // The max (q = 1) has no place on the axis and stretches nothing.
    let with_max = chart(0.999).line(Line::new("b", "c-base", vec![(1.0, 500.0)]));
    assert_eq!(labels(&with_max), ["50%", "90%", "99%", "99.9%"]);
    let empty = XyChart::new(Scale::Nines, "percentile", "ms");
    assert_eq!(labels(&empty), ["50%", "90%", "99%"]);
    let svg = {
        let mut s = String::new();
        with_max.write_svg(&mut s, "x").unwrap();
        s
    };
    assert!(!svg.contains("inf") && !svg.contains("NaN"), "{svg}");
}

#[test]
fn linear_ticks_are_nice_steps_within_the_range() {
    let pts = vec![(120.0, 5.0), (480.0, 9.0), (950.0, 30.0)];
    let c = XyChart::new(Scale::Linear, "iterations/s", "ms").line(Line::new("p99", "c-p99", pts));
    assert_eq!(labels(&c), ["0", "250", "500", "750"]);
    let c = c.x_range(100.0, 1000.0);
    assert_eq!(labels(&c), ["200", "400", "600", "800", "1000"]);
    let small = XyChart::new(Scale::Linear, "users", "ms").line(Line::new(
        "a",
        "c-new",
        vec![(0.0, 1.0), (0.3, 2.0)],
    ));
    assert_eq!(labels(&small), ["0.0", "0.1", "0.2", "0.3"]);
    assert_eq!(
        YAxis::fit(30.0, false),
        YAxis {
            step: 10.0,
            max: 30.0
        }
    );
    assert_eq!(
        YAxis::fit(31.0, false),
        YAxis {
            step: 10.0,
            max: 40.0
        }
    );
    assert_eq!(
        YAxis::fit(0.0, true),
        YAxis {
            step: 1.0,
            max: 1.0
        }
    );
}

#[test]
fn every_point_is_drawn_inside_the_plot() {
    let wild = vec![
        (-5.0, -3.0),
        (50.0, 40.0),
        (2000.0, 10.0),
        (f64::NAN, 1.0),
        (10.0, f64::INFINITY),
        (20.0, 4.0),
        (30.0, -2.0),
    ];
    let c = XyChart::new(Scale::Linear, "x", "ms")
        .x_range(0.0, 100.0)
        .line(Line::new("a", "c-new", wild));
    let nines = XyChart::new(Scale::Nines, "percentile", "ms")
        .line(Line::new("b", "c-base", quantiles(0.9999)).dashed())
        .line(Line::new(
            "c",
            "c-new",
            vec![(1.0, 3.0), (-0.1, 2.0), (0.5, 7.0)],
        ));
    // Outside the x range, or not drawable: left out.
    for (chart, points) in [(c, 3), (nines, 11 + 1)] {
        let mut svg = String::new();
        chart.write_svg(&mut svg, "chart").unwrap();
        let drawn = drawn(&svg);
        // Lines of up to MARKED points are drawn twice: line and dots.
        assert_eq!(drawn.len(), 2 * points, "{svg}");
        for (x, y) in drawn {
            assert!((LEFT..=W - RIGHT).contains(&x), "x {x}: {svg}");
            assert!((TOP..=H - BOTTOM).contains(&y), "y {y}: {svg}");
        }
    }
    let dense: Vec<(f64, f64)> = (0..100).map(|i| (i as f64, i as f64)).collect();
    let mut svg = String::new();
    XyChart::new(Scale::Linear, "x", "ms")
        .line(Line::new("a", "c-new", dense))
        .write_svg(&mut svg, "chart")
        .unwrap();
    assert!(!svg.contains("dots"), "no markers on a dense line");
    assert_eq!(drawn(&svg).len(), 100);
}

#[test]
fn names_units_and_titles_are_escaped() {
    let evil = "<script>alert('x')</script> & \"q\"";
    let c = XyChart::new(Scale::Nines, evil, evil)
        .line(Line::new(evil, "c-new", quantiles(0.99)).dashed());
    let mut html = String::new();
    c.write_figure(&mut html, evil, "caption").unwrap();
    assert!(!html.contains("<script") && !html.contains("'x'"), "{html}");
    let escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;";
    // Title, aria label, legend, tooltip, both units.
    assert_eq!(html.matches(escaped).count(), 6, "{html}");
    assert!(
        html.contains(r#"<span class="c-new dash"><i></i>"#),
        "{html}"
    );
    assert!(html.contains(r#"class="line c-new dash""#), "{html}");
}
