//! Standalone runs end to end: the engine against the real shop target on
//! 127.0.0.1 port 0, with the tool's counts checked against what the target
//! served, chaining through extracted values, failing expectations, broken
//! targets, and a graceful stop.

use std::sync::Arc;
use std::time::Duration;

use stampede_common::scenario::ScenarioSource;
use stampede_master::report::{RunReport, StopReason};
use stampede_master::run::{LoadModel, RunPlan};
use stampede_shop::ShopConfig;
use tokio_util::sync::CancellationToken;

mod support;

use support::{ShopTarget, wait_until};

/// What to run: the target, users and run time.
struct Load {
    host: String,
    users: u64,
    run_time: Option<Duration>,
}

fn config(host: &str, users: u64, run_time: Duration) -> Load {
    Load {
        host: host.to_owned(),
        users,
        run_time: Some(run_time),
    }
}

fn plan(src: ScenarioSource, load: &Load) -> RunPlan {
    let mut plan = support::plan_of(src, &load.host, load.users, 1000.0);
    plan.settings.request_timeout = Duration::from_secs(60);
    plan.run_time = load.run_time;
    plan
}

async fn run_src(src: ScenarioSource, load: Load) -> Arc<RunReport> {
    support::standalone(plan(src, &load), 1, CancellationToken::new()).await
}

async fn run_yaml(yaml: &str, load: Load) -> Arc<RunReport> {
    run_src(ScenarioSource::from_text("test.yaml", yaml), load).await
}

fn row<'a>(r: &'a RunReport, name: &str) -> &'a stampede_common::stats::StatsRow {
    r.snapshot
        .rows
        .iter()
        .find(|row| row.name == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

fn failure_messages(r: &RunReport) -> Vec<String> {
    r.snapshot
        .failures
        .iter()
        .map(|(k, _)| format!("{} {}: {}", k.key.method, k.key.name, k.error))
        .collect()
}

async fn seed_scenario_matches_target(name: &str) -> Arc<RunReport> {
    let target = ShopTarget::start(ShopConfig::default()).await;
    let path = format!("{}/../scenarios/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    let report = run_src(
        ScenarioSource::read(&path).unwrap(),
        config(&target.url(), 30, Duration::from_secs(3)),
    )
    .await;
    let served = target.shop.stats().served;
    assert!(report.snapshot.total.requests > 0, "{name}: no requests");
    assert_eq!(
        report.snapshot.total.requests, served,
        "{name}: tool count vs target count"
    );
    assert_eq!(
        report.snapshot.total.failures,
        0,
        "{name}: {:?}",
        failure_messages(&report)
    );
    assert_eq!(report.reason, StopReason::RunTime);
    report
}

#[tokio::test]
async fn seed_shop_scenario_counts_match_the_target() {
    let r = seed_scenario_matches_target("shop").await;
    assert_eq!(
        row(&r, "/api/auth/login/").requests,
        30,
        "each user logs in once"
    );
}

#[tokio::test]
async fn seed_browse_scenario_counts_match_the_target() {
    seed_scenario_matches_target("browse").await;
}

#[tokio::test]
async fn seed_order_scenario_counts_match_the_target() {
    seed_scenario_matches_target("order").await;
}

#[tokio::test]
async fn example_signing_scenario_counts_match_the_target() {
    seed_scenario_matches_target("signing").await;
}

#[tokio::test]
async fn example_pagination_scenario_orders_what_it_picked() {
    let r = seed_scenario_matches_target("pagination").await;
    let orders = row(&r, "/api/orders/");
    assert!(orders.requests > 0, "no order was placed");
    assert!(
        row(&r, "/api/products/?page=N").requests >= 5 * orders.requests,
        "five pages per order"
    );
}

#[tokio::test]
async fn example_scripted_scenario_counts_match_the_target() {
    let r = seed_scenario_matches_target("scripted").await;
    assert!(row(&r, "/api/products/?page=N").requests > 0);
}

#[tokio::test]
async fn seed_payment_scenario_pays_the_orders_it_created() {
    let r = seed_scenario_matches_target("payment").await;
    let paid = row(&r, "/api/payments/confirm/ [Concurrent]");
    assert!(paid.requests > 0, "no payment was confirmed");
    assert_eq!(paid.failures, 0);
}

const CHAIN: &str = r#"
users:
  - name: Buyer
    on_start:
      - post: /api/auth/login/
        json: {username: "load_test_user_{{ user_index }}", password: testpass123}
        extract: {token: {jsonpath: $.access}}
      - set_headers: {Authorization: "Bearer {{ token }}"}
    sequence:
      - post: /api/cart/items/
        json: {product: "{{ random_int(1, 100) }}", quantity: "{{ random_int(1, 3) }}"}
        expect: {status: 201}
      - post: /api/orders/
        json: {shipping_name: a, shipping_phone: b, shipping_postal_code: c, shipping_address: d, shipping_address_detail: e}
        expect: {status: 201}
        extract:
          order_id: {jsonpath: $.order_id}
          amount: {jsonpath: $.total_amount}
      - post: /api/payments/confirm/
        json: {payment_key: "k{{ uuid() }}", order_id: "{{ order_id }}", amount: "{{ AMOUNT }}"}
        expect: {status: 200, jsonpath: {$.status: paid, $.amount: "{{ AMOUNT }}"}}
"#;

#[tokio::test]
async fn payment_uses_the_order_just_created() {
    let target = ShopTarget::start(ShopConfig::default()).await;
    let r = run_yaml(
        &CHAIN.replace("AMOUNT", "amount"),
        config(&target.url(), 10, Duration::from_secs(2)),
    )
    .await;
    let pay = row(&r, "/api/payments/confirm/");
    assert!(pay.requests >= 10, "payments: {}", pay.requests);
    assert_eq!(r.snapshot.total.failures, 0, "{:?}", failure_messages(&r));
    assert_eq!(r.snapshot.total.requests, target.shop.stats().served);
}

#[tokio::test]
async fn a_wrong_amount_fails_with_the_targets_answer() {
    let target = ShopTarget::start(ShopConfig::default()).await;
    let r = run_yaml(
        &CHAIN.replace("AMOUNT", "amount + 1"),
        config(&target.url(), 5, Duration::from_secs(1)),
    )
    .await;
    let pay = row(&r, "/api/payments/confirm/");
    assert!(pay.requests > 0);
    assert_eq!(pay.failures, pay.requests);
    assert_eq!(
        failure_messages(&r),
        vec!["POST /api/payments/confirm/: expected status 200, got 400 (Bad Request)"]
    );
    assert_eq!(r.snapshot.total.requests, target.shop.stats().served);
}

#[tokio::test]
async fn unmet_expectations_are_failures_with_their_message() {
    let target = ShopTarget::start(ShopConfig::default()).await;
    let yaml = r#"
users:
  - name: Checker
    wait: {constant: 10ms}
    tasks:
      - steps:
          - get: /api/products/1/
            name: body
            expect: {body_contains: "no such text"}
      - steps:
          - get: /api/products/1/
            name: jsonpath
            expect: {jsonpath: {$.price: 1}}
      - steps:
          - get: /api/products/1/
            name: status
            expect: {status: 201}
      - steps:
          - get: /api/products/0/
            name: default-status
      - steps:
          - get: /api/products/2/
            name: ok
            expect: {status: [200, 204], jsonpath: {$.id: 2}, body_contains: "price"}
"#;
    let r = run_yaml(yaml, config(&target.url(), 4, Duration::from_secs(2))).await;
    let mut msgs = failure_messages(&r);
    msgs.sort();
    assert_eq!(
        msgs,
        vec![
            "GET body: body does not contain `no such text`",
            "GET default-status: unexpected status 404 (Not Found)",
            "GET jsonpath: jsonpath $.price: expected 1, got 11000",
            "GET status: expected status 201, got 200 (OK)",
        ]
    );
    assert_eq!(row(&r, "ok").failures, 0);
    assert!(row(&r, "ok").requests > 0);
    for name in ["body", "jsonpath", "status", "default-status"] {
        assert_eq!(row(&r, name).failures, row(&r, name).requests, "{name}");
    }
    assert_eq!(r.snapshot.total.requests, target.shop.stats().served);
}

const ONE_GET: &str = "users:\n  - name: U\n    wait: {constant: 20ms}\n    sequence:\n      - get: /x\n        timeout: 300ms\n";

#[tokio::test]
async fn a_target_that_refuses_connections_gives_failures_not_errors() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let r = run_yaml(
        ONE_GET,
        config(&format!("http://{addr}"), 2, Duration::from_millis(500)),
    )
    .await;
    assert!(r.snapshot.total.requests > 0);
    assert_eq!(r.snapshot.total.failures, r.snapshot.total.requests);
    assert_eq!(failure_messages(&r), vec!["GET /x: connection refused"]);
}

#[tokio::test]
async fn a_target_that_resets_connections_gives_failures() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let _ = sock.set_zero_linger();
            drop(sock);
        }
    });
    let r = run_yaml(
        ONE_GET,
        config(&format!("http://{addr}"), 2, Duration::from_millis(500)),
    )
    .await;
    assert!(r.snapshot.total.requests > 0);
    assert_eq!(r.snapshot.total.failures, r.snapshot.total.requests);
    for m in failure_messages(&r) {
        assert!(
            m == "GET /x: connection reset by peer"
                || m == "GET /x: connection closed before message completed",
            "{m}"
        );
    }
}

#[tokio::test]
async fn a_slow_target_times_out() {
    let app = axum::Router::new().route(
        "/x",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let r = run_yaml(
        ONE_GET,
        config(&format!("http://{addr}"), 2, Duration::from_millis(800)),
    )
    .await;
    assert!(r.snapshot.total.requests >= 2);
    assert_eq!(r.snapshot.total.failures, r.snapshot.total.requests);
    assert_eq!(failure_messages(&r), vec!["GET /x: timeout after 300ms"]);
    let max = row(&r, "/x").max_ms;
    assert!(
        max >= 300.0,
        "a timed-out request is recorded with its time: {max}"
    );
}

#[tokio::test]
async fn graceful_stop_finishes_in_flight_requests_and_keeps_the_results() {
    let target = ShopTarget::start(ShopConfig {
        latency: Some("20ms..40ms".parse().unwrap()),
        error_rate: 0.0,
        ..Default::default()
    })
    .await;
    let src = ScenarioSource::from_text(
        "t.yaml",
        "users:\n  - name: U\n    sequence: [{get: /api/products/}]\n",
    );
    let load = Load {
        host: target.url(),
        users: 20,
        run_time: None,
    };
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(support::standalone(plan(src, &load), 1, shutdown.clone()));
    // Readiness: wait until the target has seen load, then stop mid-flight.
    let shop = target.shop.clone();
    wait_until("the target has seen load", Duration::from_secs(20), || {
        let shop = shop.clone();
        async move { shop.stats().served >= 100 }
    })
    .await;
    shutdown.cancel();
    let r = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("stop must not hang")
        .unwrap();
    assert_eq!(r.reason, StopReason::Interrupted);
    assert!(r.snapshot.total.requests >= 100);
    assert_eq!(
        r.snapshot.total.requests,
        target.shop.stats().served,
        "in-flight requests completed and counted"
    );
    assert_eq!(r.snapshot.total.failures, 0);
}

#[tokio::test]
async fn stages_ramp_up_and_down_and_end_the_run() {
    let target = ShopTarget::start(ShopConfig::default()).await;
    let yaml =
        "users:\n  - name: U\n    wait: {constant: 50ms}\n    sequence: [{get: /api/products/}]\n";
    let load = Load {
        host: target.url(),
        users: 1,
        run_time: None,
    };
    let src = ScenarioSource::from_text("t.yaml", yaml);
    let mut plan = plan(src, &load);
    plan.load = LoadModel::Stages("1s:6,2s:6,1s:0".parse().unwrap());
    plan.users = 0;
    let r = support::standalone(plan, 1, CancellationToken::new()).await;
    assert_eq!(r.reason, StopReason::RunTime, "the run ends with the shape");
    let h = r.stats.history();
    let peak_target = h.iter().map(|p| p.target_users).max().unwrap();
    let peak_users = h.iter().map(|p| p.users).max().unwrap();
    assert_eq!(peak_target, 6);
    assert_eq!(peak_users, 6, "the workers reached the plateau");
    let at_peak = h.iter().position(|p| p.target_users == 6).unwrap();
    assert!(
        h[at_peak..].iter().any(|p| p.target_users < 6),
        "and ramped down"
    );
    assert_eq!(r.snapshot.total.requests, target.shop.stats().served);
}
