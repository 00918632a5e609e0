//! The HTML report: well-formed, complete, self-contained (no external URL),
//! escaped, small for long runs, and fine with an empty run. Reports are built
//! from synthetic runs through the real `Recorder` and `RunStats`.
//! `write_sample_report` (ignored) writes `target/sample-report.html` for the
//! screenshot in `docs/`.

use std::str::FromStr;
use std::time::{Duration, UNIX_EPOCH};

use stampede_common::stats::{Load, Measured, Recorder, RunStats, StatsKey};
use stampede_common::thresholds::{Threshold, evaluate};
use stampede_master::report::html::render_html;
use stampede_master::report::json::JsonReport;
use stampede_master::report::{RunReport, StopReason};

const HOST: &str = "http://shop.local:8080";

/// One synthetic endpoint: typical latency in ms, and a failure (every n-th request, message).
struct Ep {
    method: &'static str,
    name: &'static str,
    base_ms: f64,
    fail: Option<(u64, &'static str)>,
}

const fn ep(
    method: &'static str,
    name: &'static str,
    base_ms: f64,
    fail: Option<(u64, &'static str)>,
) -> Ep {
    Ep {
        method,
        name,
        base_ms,
        fail,
    }
}

/// A run of `secs` one-second ticks: users ramp up at `spawn_rate` to `users`,
/// each user sends about `per_user` requests a second spread over `eps`.
struct Run<'a> {
    secs: u64,
    users: u64,
    spawn_rate: f64,
    per_user: f64,
    eps: &'a [Ep],
    thresholds: &'a [&'a str],
    exceptions: &'a [&'a str],
}

/// Lognormal-ish latency around `base` ms, slower under load, with a hiccup.
fn latency_micros(rng: &mut fastrand::Rng, base: f64, load: f64, hiccup: bool) -> u64 {
    let (u1, u2) = (rng.f64().max(1e-12), rng.f64());
    let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    let mut ms = base * (0.35 * normal).exp() * (1.0 + 0.8 * load * load);
    if hiccup {
        ms *= 3.0;
    }
    (ms * 1000.0) as u64
}

fn build(run: &Run<'_>) -> JsonReport {
    let t0 = UNIX_EPOCH + Duration::from_secs(1_767_000_000);
    let keys: Vec<StatsKey> = run
        .eps
        .iter()
        .map(|e| StatsKey::new(e.method, e.name))
        .collect();
    let mut stats = RunStats::new(t0);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut seq = 0u64;
    for s in 1..=run.secs {
        let users = ((s as f64 * run.spawn_rate) as u64).min(run.users);
        let load = users as f64 / run.users.max(1) as f64;
        let hiccup = run.secs > 60 && (s * 100 / run.secs) / 5 == 12;
        let rec = Recorder::new(keys.clone());
        let n = (users as f64 * run.per_user * (0.9 + 0.2 * rng.f64())) as u64;
        for _ in 0..n {
            let slot = rng.usize(..run.eps.len());
            let e = &run.eps[slot];
            seq += 1;
            let error = e.fail.and_then(|(every, msg)| {
                (seq.is_multiple_of(every) || (hiccup && seq.is_multiple_of(7))).then_some(msg)
            });
            rec.record(
                slot,
                latency_micros(&mut rng, e.base_ms, load, hiccup),
                200 + rng.u64(..4000),
                error,
            );
        }
        if users > 0 {
            for msg in run.exceptions {
                if rng.u8(..20) == 0 || s == run.secs {
                    rec.record_exception(msg);
                }
            }
        }
        let now = t0 + Duration::from_secs(s);
        let measured = Measured::before(now, Duration::ZERO, Duration::from_secs(1));
        stats.add(&rec.take(), measured, now);
        let load = Load {
            users,
            target_users: run.users,
            target_rate: None,
        };
        stats.tick(now, load);
    }
    let ended = t0 + Duration::from_secs(run.secs) + Duration::from_millis(250);
    stats.finish(ended);
    let snapshot = stats.snapshot(ended);
    let thresholds: Vec<Threshold> = run
        .thresholds
        .iter()
        .map(|t| Threshold::from_str(t).expect("threshold"))
        .collect();
    let verdicts = evaluate(&thresholds, &snapshot);
    let report = RunReport {
        outages: Vec::new(),
        id: 1,
        classes: Vec::new(),
        load: stampede_master::report::LoadModel::Users,
        scenario: "shop checkout".into(),
        host: HOST.into(),
        users: run.users,
        spawn_rate: run.spawn_rate,
        workers: 2,
        started: t0,
        ended,
        reason: StopReason::RunTime,
        stats,
        snapshot,
        verdicts,
    };
    JsonReport::new(&report)
}

const SHOP: &[Ep] = &[
    ep("GET", "/", 18.0, None),
    ep("GET", "/api/products", 42.0, None),
    ep(
        "GET",
        "/api/products/[id]",
        25.0,
        Some((400, "HTTP 404 Not Found")),
    ),
    ep("POST", "/api/cart", 60.0, None),
    ep(
        "POST",
        "/api/orders/",
        140.0,
        Some((
            45,
            "HTTP 500 Internal Server Error: order service unavailable",
        )),
    ),
    ep(
        "GET",
        "/api/search?q=[term]",
        90.0,
        Some((120, "timeout: no response within 5s")),
    ),
];

fn realistic(secs: u64) -> JsonReport {
    build(&Run {
        secs,
        users: 100,
        spawn_rate: 4.0,
        per_user: 2.5,
        eps: SHOP,
        thresholds: &[
            "p95<400ms",
            "fail_ratio<1%",
            "rps>40",
            "POST /api/orders/: p99<300ms",
            "GET /: avg<100ms",
        ],
        exceptions: &["template error: variable `token` is not defined"],
    })
}

/// A small well-formedness check that can fail: every non-void element is
/// closed in order, attribute quotes pair up, text holds no stray `>` and
/// every `&` starts an entity.
fn check_well_formed(html: &str) -> Result<(), String> {
    const VOID: &[&str] = &[
        "meta", "link", "br", "hr", "img", "input", "wbr", "col", "source",
    ];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html.strip_prefix("<!DOCTYPE html>").ok_or("no doctype")?;
    loop {
        let text_end = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..text_end];
        if text.contains('>') {
            return Err(format!("stray `>` in text {text:?}"));
        }
        for (i, _) in text.match_indices('&') {
            let entity = &text[i + 1..];
            let len = entity
                .find(';')
                .ok_or_else(|| format!("bare `&` in {text:?}"))?;
            if len == 0
                || !entity[..len]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '#')
            {
                return Err(format!("bad entity in {text:?}"));
            }
        }
        if text_end == rest.len() {
            break;
        }
        rest = &rest[text_end + 1..];
        let end = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.matches('"').count() % 2 != 0 {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(open) if open == name => {}
                open => return Err(format!("</{name}> closes {open:?}")),
            }
            continue;
        }
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("bad tag <{tag}>"));
        }
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "style" || name == "script" {
            let close = format!("</{name}>");
            let at = rest
                .find(&close)
                .ok_or_else(|| format!("unclosed <{name}>"))?;
            rest = &rest[at + close.len()..];
            continue;
        }
        stack.push(name);
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

fn assert_self_contained(html: &str, host: &str) {
    let without_host = html.replace(host, "");
    for bad in [
        "http://",
        "https://",
        "<script src",
        "<link",
        "@import",
        "url(",
        "src=",
    ] {
        assert!(!without_host.contains(bad), "found `{bad}` in the report");
    }
}

#[test]
fn the_checker_catches_broken_html() {
    assert!(check_well_formed("<!DOCTYPE html><html><body><p>a &amp; b</p></body></html>").is_ok());
    assert!(check_well_formed("<!DOCTYPE html><html><body><p>a</body></html>").is_err());
    assert!(check_well_formed("<!DOCTYPE html><html><td>a & b</td></html>").is_err());
    assert!(check_well_formed("<!DOCTYPE html><html><td>a > b</td></html>").is_err());
    assert!(check_well_formed("<!DOCTYPE html><div class=\"x></div>").is_err());
}

#[test]
fn realistic_report_is_well_formed_complete_and_self_contained() {
    let report = realistic(90);
    let html = render_html(&report);
    check_well_formed(&html).unwrap_or_else(|e| panic!("malformed html: {e}"));
    assert_self_contained(&html, HOST);
    for section in [
        "id=\"thresholds\"",
        "id=\"stats\"",
        "id=\"percentiles\"",
        "id=\"failures\"",
        "id=\"exceptions\"",
        "id=\"charts\"",
    ] {
        assert!(html.contains(section), "missing section {section}");
    }
    for text in [
        "stampede report",
        "shop checkout",
        HOST,
        "Aggregated",
        "99.99%",
        "Average size (bytes)",
        "Failures/s",
    ] {
        assert!(html.contains(text), "missing {text}");
    }
    for e in SHOP {
        assert!(
            html.contains(&format!("<td class=\"name\">{}</td>", e.name)),
            "missing endpoint {}",
            e.name
        );
        assert!(
            html.contains(&format!("<h3>{} {}</h3>", e.method, e.name)),
            "missing chart of {}",
            e.name
        );
    }
    assert!(html.contains("HTTP 500 Internal Server Error"));
    assert!(html.contains("variable `token` is not defined"));
    assert!(!report.passed, "the scenario should lose a threshold");
    assert!(report.thresholds.iter().any(|v| v.passed));
    assert!(html.contains("FAILED"));
    for v in &report.thresholds {
        let escaped = v.threshold.replace('<', "&lt;").replace('>', "&gt;");
        let row = html
            .find(&format!("<code>{escaped}</code>"))
            .unwrap_or_else(|| panic!("missing verdict {v}"));
        let pill = if v.passed {
            "PASS</span>"
        } else {
            "FAIL</span>"
        };
        assert!(
            html[..row].ends_with(&format!("{pill}</td><td>")),
            "verdict {v} not marked {pill}"
        );
    }
    for chart in [
        "Total requests per second",
        "Response times (all requests)",
        "Users",
    ] {
        assert!(
            html.contains(&format!("<h3>{chart}</h3>")),
            "missing chart {chart}"
        );
    }
    assert!(html.matches("<svg class=\"chart\"").count() == 3 + SHOP.len());
    assert!(html.contains(">01:00</text>"), "x axis in mm:ss");
}

/// A one-hour history (3600 ticks, 10 endpoints): one real minute, repeated
/// with a slow drift (building 3600 real ticks takes minutes in a debug build).
fn one_hour() -> JsonReport {
    let eps: Vec<Ep> = (0..10)
        .map(|i| {
            let name: &'static str = Box::leak(format!("/api/resource-{i}/[id]").into_boxed_str());
            ep(
                if i % 3 == 0 { "POST" } else { "GET" },
                name,
                20.0 + 15.0 * i as f64,
                (i % 4 == 0).then_some((200, "HTTP 503")),
            )
        })
        .collect();
    let mut report = build(&Run {
        secs: 60,
        users: 20,
        spawn_rate: 20.0,
        per_user: 2.0,
        eps: &eps,
        thresholds: &["p95<1s"],
        exceptions: &[],
    });
    let minute = std::mem::take(&mut report.history);
    let t0 = minute[0].unix_ms - 1000;
    for i in 0..3600usize {
        let mut tick = minute[i % minute.len()].clone();
        let drift = 1.0 + 0.5 * (i as f64 / 600.0).sin();
        tick.unix_ms = t0 + 1000 * (i as i64 + 1);
        tick.rps *= drift;
        tick.percentiles_ms.p95 *= drift;
        tick.percentiles_ms.p99 *= drift;
        for e in &mut tick.endpoints {
            e.percentiles_ms.p95 *= drift;
            e.percentiles_ms.p99 *= drift;
        }
        report.history.push(tick);
    }
    report.run.duration_s = 3600.0;
    report
}

#[test]
fn one_hour_report_stays_under_2_mb() {
    let report = one_hour();
    assert_eq!(report.history.len(), 3600);
    assert_eq!(report.stats.len(), 10);
    let html = render_html(&report);
    println!("1-hour report: {} bytes", html.len());
    assert!(
        html.len() < 2_000_000,
        "1-hour report is {} bytes",
        html.len()
    );
    check_well_formed(&html).unwrap_or_else(|e| panic!("malformed html: {e}"));
    assert!(html.contains(">1:00:00</text>"), "x axis reaches one hour");
    assert!(
        html.contains("bucketed into"),
        "the caption says the history was bucketed"
    );
    // Every line is downsampled to at most 600 points, written with one decimal.
    for line in html.split("<path class=\"line ").skip(1) {
        let d = line
            .split("d=\"")
            .nth(1)
            .and_then(|d| d.split('"').next())
            .unwrap_or_default();
        let points = d.split([' ', 'M']).filter(|p| !p.is_empty()).count();
        assert!((100..=600).contains(&points), "a line has {points} points");
        let coord = d
            .split([' ', 'M', ','])
            .find(|c| !c.is_empty())
            .unwrap_or_default();
        assert!(
            coord.split_once('.').is_some_and(|(_, f)| f.len() == 1),
            "coordinate {coord}"
        );
    }
}

#[test]
fn strings_from_the_data_are_escaped() {
    let eps = [
        ep(
            "GET",
            "<script>alert(1)</script>",
            10.0,
            Some((3, "bad & \"worse\" <b>")),
        ),
        ep("POST", "/o'k?a=1&b=2", 10.0, None),
    ];
    let mut report = build(&Run {
        secs: 5,
        users: 5,
        spawn_rate: 5.0,
        per_user: 2.0,
        eps: &eps,
        thresholds: &["GET <script>alert(1)</script>: p95<1s"],
        exceptions: &["x<y & z"],
    });
    report.run.scenario = "<img onerror=alert(1)>".into();
    report.run.host = "http://h/?a=<b>&c=\"d\"".into();
    let html = render_html(&report);
    check_well_formed(&html).unwrap_or_else(|e| panic!("malformed html: {e}"));
    assert!(!html.contains("<script"), "raw script tag");
    assert!(!html.contains("<img"), "raw img tag");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("bad &amp; &quot;worse&quot; &lt;b&gt;"));
    assert!(html.contains("/o&#39;k?a=1&amp;b=2"));
    assert!(html.contains("x&lt;y &amp; z"));
    assert!(html.contains("http://h/?a=&lt;b&gt;&amp;c=&quot;d&quot;"));
    assert_self_contained(&html, "http://h/?a=&lt;b&gt;&amp;c=&quot;d&quot;");
}

#[test]
fn empty_report_renders() {
    for secs in [0, 3] {
        let report = build(&Run {
            secs,
            users: 0,
            spawn_rate: 1.0,
            per_user: 1.0,
            eps: SHOP,
            thresholds: &["GET /: p95<1s"],
            exceptions: &[],
        });
        assert_eq!(report.total.requests, 0);
        let html = render_html(&report);
        check_well_formed(&html).unwrap_or_else(|e| panic!("malformed html ({secs} s): {e}"));
        assert_self_contained(&html, HOST);
        assert!(
            html.contains("Aggregated") && html.contains("FAILED") && html.contains("no requests")
        );
    }
}

/// Writes `target/sample-report.html` from a 2-minute run, for the screenshot
/// (and `target/sample-report-1h.html` from the one-hour history).
#[test]
#[ignore]
fn write_sample_report() {
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    for (file, report) in [
        ("sample-report.html", realistic(120)),
        ("sample-report-1h.html", one_hour()),
    ] {
        let path = target.join(file);
        std::fs::write(&path, render_html(&report)).expect("write sample report");
        println!("wrote {}", path.display());
    }
}
