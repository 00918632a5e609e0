//! The open model end to end, through real gRPC between an in-process master
//! and workers, against the shop on 127.0.0.1 port 0: iterations start on
//! schedule whatever the target does, latency counts from each iteration's
//! intended start, and the iterations the target served match the schedule.

use std::sync::Arc;
use std::time::Duration;

use stampede_common::scenario::ScenarioSource;
use stampede_common::shape::{ArrivalRate, ArrivalShape};
use stampede_master::report::RunReport;
use stampede_master::report::json::JsonReport;
use stampede_master::run::RunPlan;
use stampede_shop::{LatencyRange, ShopConfig};
use tokio_util::sync::CancellationToken;

mod support;

use support::{Cluster, ShopTarget, wait_until};

fn plan(yaml: &str, target: &ShopTarget, users: u64) -> RunPlan {
    support::plan(yaml, &target.url(), users, 1000.0)
}

async fn run(mut plan: RunPlan, workers: usize, run_time: Duration) -> Arc<RunReport> {
    plan.run_time = Some(run_time);
    support::standalone(plan, workers, CancellationToken::new()).await
}

/// Each user logs in once (`on_start`), then views a product per iteration.
const STEPS: &str = r#"
    on_start:
      - post: /api/auth/login/
        json: {username: "load_test_user_{{ user_index % 1000 }}", password: testpass123}
        expect: {status: 200}
    sequence:
      - get: /api/products/1/
        name: product
"#;

fn json(r: &RunReport) -> serde_json::Value {
    serde_json::from_str(&JsonReport::new(r).to_string_pretty()).unwrap()
}

/// Ticks of the history as (end in seconds into the run, length in
/// seconds, the tick's JSON).
fn ticks(r: &RunReport) -> Vec<(f64, f64, serde_json::Value)> {
    let j = json(r);
    let mut prev = stampede_common::stats::unix_ms(r.started);
    j["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let end = p["unix_ms"].as_i64().unwrap();
            let tick = ((end - prev) as f64 / 1000.0, p.clone());
            prev = end;
            (
                (end - stampede_common::stats::unix_ms(r.started)) as f64 / 1000.0,
                tick.0,
                tick.1,
            )
        })
        .collect()
}

/// Mean of a history field over the ticks ending in `[from, to)` seconds
/// into the run, leaving out the last, partial one at the stop.
fn mean(r: &RunReport, field: &str, from: f64, to: f64) -> f64 {
    let t = ticks(r);
    let vals: Vec<f64> = t[..t.len() - 1]
        .iter()
        .filter(|(end, _, _)| *end >= from && *end < to)
        .map(|(_, _, p)| p[field].as_f64().unwrap())
        .collect();
    assert!(!vals.is_empty(), "no ticks in [{from}, {to}) for {field}");
    vals.iter().sum::<f64>() / vals.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_target_keeps_the_open_models_rate_and_shows_in_its_latency() {
    const RUN: Duration = Duration::from_secs(8);
    const SLOW: Duration = Duration::from_millis(300);
    // The open model: 40 iterations a second for the whole run.
    let open_target = ShopTarget::start(ShopConfig::default()).await;
    let open_shop = open_target.shop.clone();
    let open_yaml = format!(
        "arrival_rate: {{rate: 40/s, duration: 8s, max_users: 200}}\nusers:\n  - name: Buyer\n{STEPS}"
    );
    // The closed model: 4 users without waits.
    let closed_target = ShopTarget::start(ShopConfig::default()).await;
    let closed_shop = closed_target.shop.clone();
    let closed_yaml = format!("users:\n  - name: Buyer\n{STEPS}");
    // Both targets turn slow halfway through; what they answered by then
    // tells the halves apart.
    let slow = |shop: stampede_shop::Shop| async move {
        tokio::time::sleep(RUN / 2).await;
        shop.set_latency(Some(LatencyRange::fixed(SLOW)));
        shop.stats().routes["GET /api/products/{id}/"]
    };
    let open_flip = tokio::spawn(slow(open_shop.clone()));
    let closed_flip = tokio::spawn(slow(closed_shop.clone()));
    let (open, closed) = tokio::join!(
        run(plan(&open_yaml, &open_target, 0), 1, RUN),
        run(plan(&closed_yaml, &closed_target, 4), 1, RUN),
    );
    let (oj, cj) = (json(&open), json(&closed));
    let product = |shop: &stampede_shop::Shop| shop.stats().routes["GET /api/products/{id}/"];
    let open_fast = open_flip.await.unwrap();
    let open_slow = product(&open_shop) - open_fast;
    let closed_fast = closed_flip.await.unwrap();
    let closed_slow = product(&closed_shop) - closed_fast;

    // The open model kept its rate in the slow half...
    assert_eq!(oj["run"]["load"]["model"], "arrival_rate");
    assert_eq!(oj["run"]["load"]["stages"][0]["target_rate"], 40.0);
    // 160 are due in each half (the fast half's last ones may still be in
    // flight when the target turns slow).
    assert!(
        (150..=161).contains(&open_fast),
        "open model, fast half: {open_fast}"
    );
    assert!(
        (140..=170).contains(&open_slow),
        "open model, slow half: {open_slow}"
    );
    let done = oj["iterations"]["completed"].as_u64().unwrap();
    assert_eq!(
        done,
        open_fast + open_slow,
        "the json counts every iteration"
    );
    assert_eq!(mean(&open, "target_rate", 1.0, 8.0), 40.0);
    let served = open_shop.stats().routes["GET /api/products/{id}/"];
    assert!(
        (300..=330).contains(&served),
        "open model served {served} of 320 due"
    );
    assert_eq!(oj["iterations"]["dropped"], 0);
    // ...with more users in flight, and its latency shows the slowdown: a
    // response time from the intended start and a service time, both past
    // the injected delay at p95 (a third of the run was slow).
    let users_late = mean(&open, "users", 6.0, 8.0);
    assert!(
        users_late >= 10.0,
        "open model users in the slow half: {users_late}"
    );
    let total = &oj["total"];
    let service = &oj["service_time"]["total"];
    assert!(
        total["percentiles_ms"]["p95"].as_f64().unwrap() >= 300.0,
        "{total}"
    );
    assert!(
        service["percentiles_ms"]["p95"].as_f64().unwrap() >= 300.0,
        "{service}"
    );
    // New users log in first, so their first iteration starts late: the
    // corrected times are never below the service times.
    assert!(total["max_ms"].as_f64() >= service["max_ms"].as_f64());
    assert!(total["avg_ms"].as_f64().unwrap() >= service["avg_ms"].as_f64().unwrap());
    assert_eq!(total["requests"], service["requests"]);

    // The HTML report shows the shape against what was achieved, and both
    // latencies.
    let html = stampede_master::report::html::render_html(&JsonReport::new(&open));
    for part in [
        "Arrival rate",
        "Iterations per second",
        "from each iteration's intended start",
        "Service time percentiles, from sending each request (uncorrected)",
    ] {
        assert!(html.contains(part), "the html report lacks {part:?}");
    }
    let closed_html = stampede_master::report::html::render_html(&JsonReport::new(&closed));
    assert!(!closed_html.contains("Service time percentiles"));

    // The closed model's rate fell with the target: 4 users at 300 ms each
    // make at most ~13 requests a second.
    assert_eq!(cj["run"]["load"]["model"], "users");
    assert!(cj["service_time"].is_null());
    assert!(
        closed_slow <= 4 * 14 + 4,
        "closed model, slow half: {closed_slow} requests"
    );
    assert!(
        closed_fast >= 4 * closed_slow,
        "closed model: {closed_fast} requests fell to {closed_slow}"
    );
    // The JSON shows it too: the requests per second of its last full ticks.
    let late_rps = mean(&closed, "rps", 6.5, 60.0);
    assert!(
        late_rps < 20.0,
        "closed model's late rps in the json: {late_rps}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_iterations_a_second_for_20s_over_two_workers_serve_40000() {
    let target = ShopTarget::start(ShopConfig::default()).await;
    let shop = target.shop.clone();
    let yaml = r#"
arrival_rate: {rate: 2000/s, duration: 20s, max_users: 400}
users:
  - name: Viewer
    sequence:
      - get: /api/products/7/
"#;
    let report = run(plan(yaml, &target, 0), 2, Duration::from_secs(30)).await;
    let served = shop.stats().routes["GET /api/products/{id}/"];
    let s = &report.snapshot;
    assert!(
        (39_600..=40_400).contains(&served),
        "served {served}, want 40,000 ± 1% (completed {}, dropped {})",
        s.iterations,
        s.dropped_iterations
    );
    assert_eq!(s.total.requests, served, "every served request was counted");
    assert_eq!(s.iterations, served);
    // The run ended with its shape, not at the 30 s run time.
    let took = report.ended.duration_since(report.started).unwrap();
    assert!(took < Duration::from_secs(25), "{took:?}");
}

#[test]
fn the_split_over_workers_adds_up_to_the_shape() {
    let a = ArrivalRate {
        shape: "10s:1000/s,10s:7/s".parse::<ArrivalShape>().unwrap(),
        max_users: 10,
    };
    let source = ScenarioSource::from_text(
        "s.yaml",
        "users:\n  - {name: A, weight: 3, sequence: [{get: /}]}\n  - {name: B, sequence: [{get: /}]}\n",
    );
    let scenario = source.compile().unwrap();
    for n in 1..=4 {
        let mut next = 5;
        let shares = stampede_master::plan::arrival_shares(
            &a,
            &scenario,
            &[0, 1],
            n,
            Duration::from_secs(3),
            &mut next,
        );
        assert_eq!(shares.len(), n);
        assert_eq!(shares.iter().map(|s| s.max_users).sum::<u64>(), 10);
        assert_eq!(next, 15, "index ranges follow each other");
        let at = Duration::from_secs(12);
        let rate: f64 = shares.iter().map(|s| s.shape.rate_at(at).unwrap()).sum();
        assert!((rate - a.shape.rate_at(at).unwrap()).abs() < 1e-9);
        assert!(shares.iter().all(|s| s.classes == vec![(0, 3), (1, 1)]));
        assert!(shares.iter().all(|s| s.elapsed == Duration::from_secs(3)));
        let mut firsts: Vec<u64> = shares.iter().map(|s| s.first_index).collect();
        firsts.dedup();
        assert_eq!(firsts.len(), n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_is_re_split_as_workers_join_and_leave() {
    let mut c = Cluster::start(2).await;
    let yaml = "arrival_rate: {rate: 200/s, duration: 6s, max_users: 60}\nusers:\n  - name: V\n    sequence: [{get: /api/products/2/}]\n";
    let id = c.master.start(c.plan(yaml, 0, 1.0)).await.unwrap();
    c.wait_served(200).await;
    // A third worker joins: the master re-splits the rest of the shape over three.
    c.add_worker("w2", false).await;
    let m = c.master.clone();
    wait_until(
        "w2 runs users of the arrival rate",
        Duration::from_secs(10),
        || {
            let m = m.clone();
            async move {
                m.view()
                    .await
                    .unwrap()
                    .workers
                    .iter()
                    .any(|w| w.id == "w2" && w.users > 0)
            }
        },
    )
    .await;
    // w0 leaves: its share goes to the other two.
    c.wait_served(700).await;
    c.workers[0].stop.cancel();
    c.wait_state(
        "w0",
        stampede_master::cluster::WorkerState::Missing,
        Duration::from_secs(5),
    )
    .await;
    // 1,200 are due over the 6 s; each re-split may move the schedule of a
    // worker by one iteration.
    c.wait_served(1_170).await;
    // The master ends the run with its shape.
    let run = tokio::time::timeout(Duration::from_secs(20), c.master.wait_finished(id))
        .await
        .expect("the run ends with its shape")
        .unwrap();
    assert_eq!(run.reason, stampede_master::report::StopReason::RunTime);
    let served = c.served();
    assert!(
        (1_180..=1_210).contains(&served),
        "served {served} of 1,200 due"
    );
    assert_eq!(
        run.stats.total().requests,
        served,
        "every request counted once"
    );
    assert_eq!(run.workers, 3);
}
