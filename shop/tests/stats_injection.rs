//! `/_stats` counting and the injected latency and error rate.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::TestShop;
use reqwest::StatusCode;
use serde_json::json;
use stampede_shop::{LatencyRange, ShopConfig, ShopStats};

#[tokio::test]
async fn stats_count_exactly_what_was_served() {
    let t = TestShop::start(ShopConfig::default()).await;
    let token = t.login(0).await; // login 1
    let _ = t
        .post(
            "/api/auth/login/",
            None,
            json!({"username": "x", "password": "y"}),
        )
        .await; // login 2 (401)
    let _ = t.get("/api/products/").await; // list 1
    let _ = t.get("/api/products/?page=9").await; // list 2 (404)
    let _ = t.get("/api/products/7/").await; // detail 1
    let _ = t.get("/api/products/abc/").await; // detail 2 (404)
    let _ = t
        .post("/api/cart/items/", None, json!({"product": 1}))
        .await; // cart 1 (401)
    t.add_to_cart(&token, 1, 1).await; // cart 2
    let _ = t.post_raw("/api/cart/items/", Some(&token), "{").await; // cart 3 (400)
    let _ = t.order(&token).await; // orders 1
    let _ = t
        .post(
            "/api/payments/confirm/",
            Some(&token),
            json!({"payment_key": "k", "order_id": 1, "amount": 0}),
        )
        .await; // confirm 1 (400)
    let _ = t.get("/").await; // other 1
    let _ = t.get("/api/nope/").await; // other 2
    let resp = t.client.delete(t.url("/api/orders/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED); // other 3

    let expected: BTreeMap<String, u64> = [
        ("POST /api/auth/login/", 2),
        ("GET /api/products/", 2),
        ("GET /api/products/{id}/", 2),
        ("POST /api/cart/items/", 3),
        ("POST /api/orders/", 1),
        ("POST /api/payments/confirm/", 1),
        ("other", 3),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let expected = ShopStats {
        served: 14,
        routes: expected,
    };

    for _ in 0..2 {
        let (status, body) = t.get("/_stats").await;
        assert_eq!(status, StatusCode::OK);
        let stats: ShopStats = serde_json::from_value(body).unwrap();
        assert_eq!(stats, expected, "/_stats does not count itself");
    }
    assert_eq!(t.shop.stats(), expected);

    let resp = t.client.post(t.url("/_stats/reset")).send().await.unwrap();
    assert!(resp.status().is_success());
    let stats = t.shop.stats();
    assert_eq!(stats.served, 0);
    assert!(stats.routes.values().all(|n| *n == 0));
    t.stop().await;
}

#[tokio::test]
async fn error_rate_one_fails_every_api_request() {
    let t = TestShop::start(ShopConfig {
        latency: None,
        error_rate: 1.0,
        ..Default::default()
    })
    .await;
    for path in ["/api/products/", "/api/products/1/", "/api/nope/"] {
        let (status, body) = t.get(path).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(body, json!({"detail": "injected error"}));
    }
    let (status, _) = t
        .post(
            "/api/auth/login/",
            None,
            json!({"username": "load_test_user_0", "password": "testpass123"}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    // outside /api/ nothing is injected
    let (status, _) = t.get("/_stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.shop.stats().served, 4, "injected errors are counted");
    t.stop().await;
}

#[tokio::test]
async fn error_rate_zero_with_latency_never_fails() {
    let latency = LatencyRange {
        min: Duration::from_millis(1),
        max: Duration::from_millis(3),
    };
    let t = TestShop::start(ShopConfig {
        latency: Some(latency),
        error_rate: 0.0,
        ..Default::default()
    })
    .await;
    for i in 1..=30 {
        let (status, _) = t.get(&format!("/api/products/{i}/")).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(t.shop.stats().served, 30);
    t.stop().await;
}

#[tokio::test]
async fn answer_times_include_the_injected_latency_and_reset() {
    let t = TestShop::start(ShopConfig {
        latency: Some(LatencyRange::fixed(Duration::from_millis(20))),
        ..ShopConfig::default()
    })
    .await;
    for _ in 0..5 {
        let _ = t.get("/api/products/3/").await;
    }
    let _ = t.get("/").await; // not under /api/: not measured
    let l: stampede_shop::ShopLatency = t
        .client
        .get(t.url("/_stats/latency"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(l.count, 5);
    assert!(
        l.p50_ms >= 20.0 && l.p99_ms >= l.p50_ms && l.max_ms >= l.p99_ms,
        "{l:?}"
    );
    // The latency endpoint itself is not counted as served.
    assert_eq!(t.shop.stats().served, 6);
    let resp = t.client.post(t.url("/_stats/reset")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(t.shop.latency().count, 0);
}

#[tokio::test]
async fn a_concurrency_limit_serves_the_rest_in_turn() {
    // One place, 50 ms each: four requests sent at once are answered one
    // after another, so the last takes at least four latencies (a lower
    // bound the sleeps guarantee), and all four are served.
    let t = TestShop::start(ShopConfig {
        latency: Some(LatencyRange::fixed(Duration::from_millis(50))),
        concurrency: Some(1),
        ..ShopConfig::default()
    })
    .await;
    let started = std::time::Instant::now();
    let answers = tokio::join!(
        t.get("/api/products/1/"),
        t.get("/api/products/2/"),
        t.get("/api/products/3/"),
        t.get("/api/products/4/"),
    );
    let statuses = [answers.0.0, answers.1.0, answers.2.0, answers.3.0];
    assert_eq!(statuses, [StatusCode::OK; 4]);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(t.shop.stats().served, 4);
    assert!(
        ShopConfig {
            concurrency: Some(0),
            ..ShopConfig::default()
        }
        .validate()
        .is_err_and(
            |e| e.to_string() == "invalid concurrency 0: expected at least 1 request at once"
        )
    );
    t.stop().await;
}
