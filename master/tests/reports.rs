//! The report files of a real run: Locust's CSV headers and columns, the JSON
//! report's schema, and Prometheus metrics scraped during a run and parsed
//! with a real exposition-format parser.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use stampede_common::scenario::ScenarioSource;
use stampede_master::report::json::JsonReport;
use stampede_master::report::{RunReport, csv};
use stampede_master::run::RunPlan;
use stampede_shop::{Shop, ShopConfig};
use tokio_util::sync::CancellationToken;

mod support;

use support::{ShopTarget, wait_until};

const SCENARIO: &str = r#"
users:
  - name: U
    wait: {constant: 20ms}
    tasks:
      - steps: [{get: /api/products/}]
      - steps: [{get: /api/products/0/, name: missing}]
"#;

async fn shop() -> (Shop, String, ShopTarget) {
    let target = ShopTarget::start(ShopConfig::default()).await;
    (target.shop.clone(), target.url(), target)
}

fn plan(host: &str) -> RunPlan {
    support::plan_of(
        ScenarioSource::from_text("r.yaml", SCENARIO),
        host,
        4,
        100.0,
    )
}

async fn run(
    host: &str,
    metrics: Option<tokio::net::TcpListener>,
    thresholds: &[&str],
) -> Arc<RunReport> {
    let mut plan = plan(host);
    plan.run_time = Some(Duration::from_secs(3));
    plan.thresholds = thresholds.iter().map(|t| t.parse().unwrap()).collect();
    support::standalone_with_metrics(plan, 1, metrics, CancellationToken::new()).await
}

/// Locust's headers, as its documentation and `stats.py` write them.
const LOCUST_STATS: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
const LOCUST_HISTORY: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size";
const LOCUST_FAILURES: &str = "Method,Name,Error,Occurrences,First Seen,Last Seen";
const LOCUST_EXCEPTIONS: &str = "Count,Message,Traceback,Nodes";

fn parse(text: &str) -> Vec<Vec<String>> {
    ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_files_have_locusts_headers_and_columns() {
    let (shop, url, _stop) = shop().await;
    let r = run(&url, None, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run").to_str().unwrap().to_owned();
    let paths = csv::write_all(&prefix, &r, true).unwrap();
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "run_stats.csv",
            "run_stats_history.csv",
            "run_failures.csv",
            "run_exceptions.csv"
        ]
    );

    let stats = parse(&std::fs::read_to_string(&paths[0]).unwrap());
    assert_eq!(stats[0].join(","), LOCUST_STATS);
    assert_eq!(stats.len(), 4, "two endpoints and Aggregated");
    assert!(stats.iter().all(|row| row.len() == 22));
    let products = stats.iter().find(|r| r[1] == "/api/products/").unwrap();
    assert_eq!(products[0], "GET");
    let agg = stats.last().unwrap();
    assert_eq!((agg[0].as_str(), agg[1].as_str()), ("", "Aggregated"));
    let total: u64 = agg[2].parse().unwrap();
    assert_eq!(total, shop.stats().served);
    let missing = stats.iter().find(|r| r[1] == "missing").unwrap();
    assert_eq!(missing[2], missing[3], "every /0/ request failed");
    for row in &stats[1..] {
        for cell in &row[4..] {
            cell.parse::<f64>()
                .unwrap_or_else(|_| panic!("not a number: {cell} in {row:?}"));
        }
    }

    let history = parse(&std::fs::read_to_string(&paths[1]).unwrap());
    // Locust's columns first, then the shape's target next to what was achieved.
    assert_eq!(history[0][..24].join(","), LOCUST_HISTORY);
    assert_eq!(
        history[0][24..].join(","),
        "Target Users,Target Iterations/s,Iterations/s,Dropped Iterations/s"
    );
    assert!(history.len() > 3);
    assert!(history[1..].iter().all(|row| row.len() == 28));
    let agg = history[1..].iter().find(|r| r[3] == "Aggregated").unwrap();
    assert_eq!(agg[24], "4", "target users");
    assert_eq!(agg[25], "", "no target rate in the closed model");
    assert!(
        history[1..]
            .iter()
            .any(|row| row[3] == "Aggregated" && row[2].is_empty())
    );
    assert!(
        history[1..].iter().any(|row| row[3] == "/api/products/"),
        "--csv-full-history adds endpoints"
    );
    let last_agg = history
        .iter()
        .rev()
        .find(|row| row[3] == "Aggregated")
        .unwrap();
    assert_eq!(
        last_agg[17].parse::<u64>().unwrap(),
        total,
        "Total Request Count at the end"
    );
    assert!(
        last_agg[0].parse::<u64>().unwrap() > 1_600_000_000,
        "epoch seconds"
    );

    let failures = parse(&std::fs::read_to_string(&paths[2]).unwrap());
    assert_eq!(failures[0].join(","), LOCUST_FAILURES);
    assert_eq!(
        failures[1][..3],
        [
            "GET".to_owned(),
            "missing".to_owned(),
            "unexpected status 404 (Not Found)".to_owned()
        ]
    );
    assert!(
        failures[1][4].ends_with('Z') && failures[1][4].len() == 20,
        "{}",
        failures[1][4]
    );

    let exceptions = parse(&std::fs::read_to_string(&paths[3]).unwrap());
    assert_eq!(exceptions[0].join(","), LOCUST_EXCEPTIONS);
    assert_eq!(exceptions.len(), 1);

    let plain = csv::history_csv(&r, false);
    assert!(parse(&plain)[1..].iter().all(|row| row[3] == "Aggregated"));
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_schema_is_stable() {
    let (shop, url, _stop) = shop().await;
    let r = run(&url, None, &["p95<10s", "missing: fail_ratio<1%"]).await;
    let v: serde_json::Value =
        serde_json::from_str(&JsonReport::new(&r).to_string_pretty()).unwrap();
    assert_eq!(v["schema"], "stampede-report/2");
    assert_eq!(
        keys(&v),
        set(&[
            "schema",
            "run",
            "passed",
            "thresholds",
            "stats",
            "total",
            "failures",
            "exceptions",
            "iterations",
            "service_time",
            "history",
            "outages"
        ])
    );
    assert_eq!(v["run"]["load"], serde_json::json!({"model": "users"}));
    assert_eq!(
        keys(&v["iterations"]),
        set(&["completed", "per_s", "dropped"])
    );
    assert!(v["service_time"].is_null(), "closed model");
    assert_eq!(
        keys(&v["run"]),
        set(&[
            "tool",
            "scenario",
            "host",
            "users",
            "spawn_rate",
            "workers",
            "started",
            "ended",
            "duration_s",
            "stop_reason",
            "load"
        ])
    );
    let endpoint = set(&[
        "method",
        "name",
        "requests",
        "failures",
        "fail_ratio",
        "rps",
        "failures_per_s",
        "avg_ms",
        "min_ms",
        "max_ms",
        "median_ms",
        "avg_content_bytes",
        "percentiles_ms",
        "histogram",
    ]);
    assert_eq!(keys(&v["total"]), endpoint);
    assert_eq!(keys(&v["stats"][0]), endpoint);
    // The histogram is the exact merged one: it decodes, and holds every request.
    let run = stampede_master::compare::Run::parse("r.json", &v.to_string()).unwrap();
    let total = run.total.histogram.as_ref().expect("a histogram");
    assert_eq!(total.requests, v["total"]["requests"].as_u64().unwrap());
    assert!((total.percentile_ms(0.5) - v["total"]["median_ms"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(
        keys(&v["total"]["percentiles_ms"]),
        set(&[
            "p50", "p66", "p75", "p80", "p90", "p95", "p98", "p99", "p99.9", "p99.99", "p100"
        ])
    );
    assert_eq!(
        keys(&v["thresholds"][0]),
        set(&["threshold", "actual", "limit", "unit", "passed"])
    );
    assert_eq!(
        keys(&v["failures"][0]),
        set(&[
            "method",
            "name",
            "error",
            "occurrences",
            "first_seen",
            "last_seen"
        ])
    );
    let tick = &v["history"][0];
    assert_eq!(
        keys(tick),
        set(&[
            "time",
            "unix_ms",
            "users",
            "target_users",
            "target_rate",
            "iterations_per_s",
            "dropped_iterations_per_s",
            "rps",
            "failures_per_s",
            "avg_ms",
            "percentiles_ms",
            "total",
            "endpoints"
        ])
    );
    assert_eq!(
        keys(&tick["total"]),
        set(&[
            "requests",
            "failures",
            "median_ms",
            "avg_ms",
            "min_ms",
            "max_ms",
            "avg_content"
        ])
    );
    // The values agree with the target and the thresholds.
    assert_eq!(
        v["total"]["requests"].as_u64().unwrap(),
        shop.stats().served
    );
    assert_eq!(v["run"]["stop_reason"], "run_time");
    assert_eq!(v["run"]["workers"], 1);
    assert_eq!(v["thresholds"][0]["passed"], true);
    assert_eq!(v["thresholds"][1]["passed"], false);
    assert_eq!(v["passed"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics_during_a_run_parse() {
    let (shop, url, _stop) = shop().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let run = tokio::spawn({
        let url = url.clone();
        async move { run(&url, Some(listener), &[]).await }
    });
    // Readiness: the target has seen load.
    wait_until("the target has seen load", Duration::from_secs(20), || {
        let shop = shop.clone();
        async move { shop.stats().served >= 20 }
    })
    .await;
    let mut scrape = None;
    for _ in 0..100 {
        let text = reqwest::get(&metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let lines: Vec<std::io::Result<String>> = text.lines().map(|l| Ok(l.to_owned())).collect();
        let parsed = prometheus_parse::Scrape::parse(lines.into_iter()).unwrap();
        let requests: f64 = parsed
            .samples
            .iter()
            .filter(|s| s.metric == "stampede_requests_total")
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) => v,
                _ => 0.0,
            })
            .sum();
        if requests > 0.0 {
            scrape = Some(parsed);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scrape = scrape.expect("merged stats reached /metrics");
    let sample = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let req = sample("stampede_requests_total");
    assert_eq!(req.labels.get("method"), Some("GET"));
    assert!(matches!(sample("stampede_users").value, prometheus_parse::Value::Gauge(u) if u > 0.0));
    assert!(matches!(
        sample("stampede_dropped_iterations_total").value,
        prometheus_parse::Value::Counter(d) if d == 0.0
    ));
    assert!(matches!(
        sample("stampede_iterations_total").value,
        prometheus_parse::Value::Counter(_)
    ));
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "stampede_workers" && s.labels.get("state") == Some("running"))
    );
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric.starts_with("stampede_response_time_seconds"))
    );
    assert!(scrape.docs.contains_key("stampede_failures_total"));
    run.await.unwrap();
}
