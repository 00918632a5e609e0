//! The comparison's page: curves from histograms or listed percentiles, and
//! everything the reports say escaped.

use base64::Engine as _;
use serde_json::json;
use stampede_common::stats::EndpointStats;

use super::*;
use crate::compare::Noise;

/// A report of one endpoint `name` whose requests took 1..=`n` ms.
fn report(scenario: &str, name: &str, n: u64, histogram: bool) -> serde_json::Value {
    let mut s = EndpointStats::new();
    (1..=n).for_each(|ms| s.record(ms * 1000, 0, false));
    let b64 = base64::engine::general_purpose::STANDARD.encode(s.encode_histogram().unwrap());
    let labels = QUANTILES.map(|(l, q)| (l.to_owned(), json!(s.percentile_ms(q))));
    let mut row = json!({
        "method": "GET", "name": name, "requests": n, "failures": 0, "rps": n as f64,
        "avg_ms": s.avg_ms(), "min_ms": s.min_ms(), "max_ms": s.max_ms(),
        "percentiles_ms": labels.into_iter().collect::<serde_json::Map<_, _>>(),
    });
    if histogram {
        row["histogram"] = b64.into();
    }
    let mut total = row.clone();
    total["method"] = "".into();
    total["name"] = "Aggregated".into();
    let schema = if histogram { "/2" } else { "/1" };
    json!({
        "schema": format!("stampede-report{schema}"),
        "run": {"scenario": scenario, "host": "http://h/?a=<b>", "duration_s": 2.0, "users": 5,
                "started": "2026-01-02T03:04:05.000Z", "load": {"model": "users"}},
        "stats": [row], "total": total,
    })
}

fn run(file: &str, v: &serde_json::Value) -> Run {
    Run::parse(file, &v.to_string()).unwrap()
}

#[test]
fn curves_follow_the_histogram_or_the_listed_percentiles() {
    let r = run("a.json", &report("s", "/a", 1000, true));
    let (points, exact) = curve(&r.total);
    assert!(exact);
    assert_eq!(points.len(), CURVE_POINTS + 1);
    assert_eq!(points[0], (0.0, 1.0), "from the fastest request");
    let last = points[CURVE_POINTS];
    assert!(
        (last.0 - 0.999).abs() < 1e-9 && (last.1 - 999.0).abs() <= 1.0,
        "{last:?}"
    );
    assert!(
        points
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
    );
    // Without histograms: the listed percentiles the 1,000 requests resolve.
    let r = run("a.json", &report("s", "/a", 1000, false));
    let (points, exact) = curve(&r.total);
    assert!(!exact);
    let qs: Vec<f64> = points.iter().map(|p| p.0).collect();
    assert_eq!(qs, [0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999]);
    assert!((points[0].1 - 500.0).abs() <= 1.0, "{points:?}");
    let empty = Side {
        requests: 0,
        histogram: Some(EndpointStats::new()),
        ..r.total
    };
    assert!(curve(&empty).0.is_empty());
}

#[test]
fn the_page_escapes_what_the_reports_say() {
    let evil = "<script>alert('x')</script>";
    let base = run("dir/<b>&base.json", &report(evil, "/a?b=<i>&c", 500, true));
    let new = run("new.json", &report(evil, "/a?b=<i>&c", 800, false));
    let gate: crate::compare::Gate = "GET /a?b=<i>&c: p95:+10%".parse().unwrap();
    let c = Comparison::new(&base, &new, &[gate], Noise::default()).unwrap();
    let page = render_html(&c, &base, &new);
    for raw in ["<script", "<b>&", "<i>&", "'x'"] {
        assert!(!page.contains(raw), "raw `{raw}` in the page");
    }
    for escaped in [
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;",
        "/a?b=&lt;i&gt;&amp;c",
        "base (&lt;b&gt;&amp;base.json)",
        "dir/&lt;b&gt;&amp;base.json",
        "http://h/?a=&lt;b&gt;",
    ] {
        assert!(page.contains(escaped), "no `{escaped}` in the page");
    }
    // The gate failed (p95 rose by 60%, beyond noise), and the page says so.
    assert!(page.contains(r#"<span class="badge fail">FAILED"#));
    assert!(page.contains(r#"<span class="pill fail">FAIL</span>"#));
    // 800 requests resolve p50 .. p99, not p99.9.
    let sources = "base from its exact histogram, new from the 8 percentiles its report lists";
    assert!(
        page.contains(sources),
        "the caption names each curve's source"
    );
    assert!(
        page.contains("the margin alone"),
        "a /1 report: how noise was judged"
    );
    assert_eq!(
        page.matches(r#"<svg class="chart""#).count(),
        2,
        "Aggregated and /a"
    );
}
