//! Login and the public product routes over real HTTP.

mod common;

use common::TestShop;
use reqwest::StatusCode;
use serde_json::json;
use stampede_shop::{PASSWORD, ShopConfig};

#[tokio::test]
async fn login_succeeds_and_fails() {
    let t = TestShop::start(ShopConfig::default()).await;

    let a = t.login(0).await;
    let b = t.login(0).await;
    assert_ne!(a, b, "every login gets its own token");
    let _ = t.login(999).await;

    let (status, body) = t
        .post(
            "/api/auth/login/",
            None,
            json!({"username": "load_test_user_1", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["access"].is_string() && body["refresh"].is_string());

    for (user, password) in [
        ("load_test_user_1", "wrong"),
        ("load_test_user_1000", PASSWORD),
        ("someone", PASSWORD),
    ] {
        let (status, body) = t
            .post(
                "/api/auth/login/",
                None,
                json!({"username": user, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{user}/{password}");
        assert!(body["detail"].is_string());
    }

    let (status, body) = t
        .post(
            "/api/auth/login/",
            None,
            json!({"username": "load_test_user_1"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"].as_str().unwrap().contains("password"),
        "{body}"
    );
    t.stop().await;
}

#[tokio::test]
async fn product_pages() {
    let t = TestShop::start(ShopConfig::default()).await;
    let link = |page: Option<u32>| match page {
        Some(n) => json!(format!("http://{}/api/products/?page={n}", t.addr)),
        None => json!(format!("http://{}/api/products/", t.addr)),
    };

    let (status, page1) = t.get("/api/products/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page1["count"], 100);
    assert_eq!(page1["next"], link(Some(2)));
    assert_eq!(page1["previous"], json!(null));
    let results = page1["results"].as_array().unwrap();
    assert_eq!(results.len(), 20);
    assert_eq!(
        results[0],
        json!({"id": 1, "name": "성능테스트 상품 1", "price": 11000, "stock": 1000, "is_active": true})
    );

    let (status, explicit) = t.get("/api/products/?page=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(explicit, page1);

    let (status, page2) = t.get("/api/products/?page=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page2["next"], link(Some(3)));
    assert_eq!(
        page2["previous"],
        link(None),
        "like DRF, page 1 has no page parameter"
    );

    let (status, page5) = t.get("/api/products/?page=5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page5["next"], json!(null));
    assert_eq!(page5["previous"], link(Some(4)));
    let results = page5["results"].as_array().unwrap();
    assert_eq!(results.len(), 20);
    assert_eq!(results[19]["id"], 100);
    assert_eq!(results[19]["price"], 110_000);

    for bad in ["6", "0", "abc", "-1"] {
        let (status, body) = t.get(&format!("/api/products/?page={bad}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "page {bad}");
        assert_eq!(body, json!({"detail": "invalid page"}));
    }

    let resp = t
        .client
        .get(t.url("/api/products/"))
        .header("host", "shop.example:8080")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["next"],
        "http://shop.example:8080/api/products/?page=2"
    );
    t.stop().await;
}

#[tokio::test]
async fn product_details() {
    let t = TestShop::start(ShopConfig::default()).await;
    let (status, one) = t.get("/api/products/1/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        one,
        json!({"id": 1, "name": "성능테스트 상품 1", "price": 11000, "stock": 1000, "is_active": true})
    );
    let (status, last) = t.get("/api/products/100/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(last["name"], "성능테스트 상품 100");
    assert_eq!(last["price"], 110_000);

    for bad in ["0", "101", "abc", "-1", "99999999999999999999999"] {
        let (status, body) = t.get(&format!("/api/products/{bad}/")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "product {bad}");
        assert!(body["detail"].is_string());
    }
    t.stop().await;
}
