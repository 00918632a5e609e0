//! The authenticated shopping flow: cart, order, payment confirmation, and its failures.

mod common;

use common::{TestShop, shipping};
use reqwest::StatusCode;
use serde_json::json;
use stampede_shop::ShopConfig;

const CONFIRM: &str = "/api/payments/confirm/";

#[tokio::test]
async fn full_flow_then_already_paid() {
    let t = TestShop::start(ShopConfig::default()).await;
    let token = t.login(5).await;

    let (status, item) = t
        .post(
            "/api/cart/items/",
            Some(&token),
            json!({"product": 3, "quantity": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(item["product"], 3);
    assert_eq!(item["quantity"], 2);
    assert!(item["id"].is_u64());
    let (status, item) = t
        .post("/api/cart/items/", Some(&token), json!({"product": 10}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(item["quantity"], 1, "quantity defaults to 1");

    let (status, order) = t.order(&token).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_u64().unwrap();
    assert_eq!(order["order_id"], format!("ORDER_{id}"));
    assert_eq!(order["status"], "pending");
    assert_eq!(order["total_amount"], 13_000 * 2 + 20_000);
    assert_eq!(order["items"].as_array().unwrap().len(), 2);

    let confirm = json!({
        "payment_key": "pk_test",
        "order_id": order["order_id"],
        "amount": order["total_amount"],
    });
    let (status, paid) = t.post(CONFIRM, Some(&token), confirm.clone()).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(
        paid,
        json!({"status": "paid", "order_id": format!("ORDER_{id}"), "amount": 46_000})
    );

    let (status, again) = t.post(CONFIRM, Some(&token), confirm).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        again["detail"].as_str().unwrap().contains("already paid"),
        "{again}"
    );

    let (status, empty) = t.order(&token).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the order emptied the cart"
    );
    assert_eq!(empty, json!({"detail": "cart is empty"}));
    t.stop().await;
}

#[tokio::test]
async fn payment_refusals() {
    let t = TestShop::start(ShopConfig::default()).await;
    let alice = t.login(1).await;
    let bob = t.login(2).await;
    t.add_to_cart(&alice, 1, 1).await;
    let (_, order) = t.order(&alice).await;
    let id = order["id"].as_u64().unwrap();
    let total = order["total_amount"].as_u64().unwrap();
    assert_eq!(total, 11_000);

    let detail = |body: serde_json::Value| body["detail"].as_str().unwrap().to_owned();

    let (status, body) = t
        .post(
            CONFIRM,
            Some(&alice),
            json!({"payment_key": "k", "order_id": id, "amount": total + 1}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(body).contains("amount mismatch"));

    let (status, body) = t
        .post(
            CONFIRM,
            Some(&bob),
            json!({"payment_key": "k", "order_id": id, "amount": total}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(body).contains("not yours"));

    for missing in [json!(id + 1000), json!("ORDER_999999"), json!("nonsense")] {
        let (status, body) = t
            .post(
                CONFIRM,
                Some(&alice),
                json!({"payment_key": "k", "order_id": missing, "amount": total}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(detail(body).contains("not found"));
    }

    // the integer id form works too, and the refusals above did not pay the order
    let (status, body) = t
        .post(
            CONFIRM,
            Some(&alice),
            json!({"payment_key": "k", "order_id": id, "amount": total}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.stop().await;
}

#[tokio::test]
async fn authentication_is_required() {
    let t = TestShop::start(ShopConfig::default()).await;
    let item = json!({"product": 1, "quantity": 1});

    let (status, body) = t.post("/api/cart/items/", None, item.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"detail": "authentication credentials were not provided"})
    );

    for path in ["/api/cart/items/", "/api/orders/", CONFIRM] {
        let (status, body) = t.post(path, Some("not-a-token"), item.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(body["detail"].is_string());
        let (status, _) = t.post(path, Some(&"0".repeat(32)), item.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }

    let resp = t
        .client
        .post(t.url("/api/orders/"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .json(&shipping())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    t.stop().await;
}

#[tokio::test]
async fn bad_bodies_are_400_not_422() {
    let t = TestShop::start(ShopConfig::default()).await;
    let token = t.login(3).await;

    for (path, body) in [
        ("/api/auth/login/", "{not json"),
        ("/api/auth/login/", ""),
        ("/api/auth/login/", r#"{"username": 1, "password": "x"}"#),
        ("/api/cart/items/", r#"{"product": "abc"}"#),
        ("/api/cart/items/", r#"{"product": 1, "quantity": -1}"#),
        ("/api/cart/items/", r#"{"product": 1, "quantity": "two"}"#),
        ("/api/cart/items/", "[[["),
        (
            CONFIRM,
            r#"{"payment_key": "k", "order_id": 1, "amount": "lots"}"#,
        ),
        (CONFIRM, r#"{"payment_key": 5, "order_id": 1, "amount": 1}"#),
        (
            CONFIRM,
            r#"{"payment_key": "k", "order_id": null, "amount": 1}"#,
        ),
    ] {
        let (status, reply) = t.post_raw(path, Some(&token), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {reply}");
        assert!(reply["detail"].is_string(), "{reply}");
    }

    for (body, expected) in [
        (json!({"product": 0}), "does not exist"),
        (json!({"product": 101}), "does not exist"),
        (json!({"product": 1, "quantity": 0}), "at least 1"),
    ] {
        let (status, reply) = t.post("/api/cart/items/", Some(&token), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            reply["detail"].as_str().unwrap().contains(expected),
            "{reply}"
        );
    }

    t.add_to_cart(&token, 1, 1).await;
    let mut partial = shipping();
    partial.as_object_mut().unwrap().remove("shipping_phone");
    let (status, reply) = t.post("/api/orders/", Some(&token), partial).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        reply["detail"].as_str().unwrap().contains("shipping_phone"),
        "{reply}"
    );
    // the failed order left the cart alone
    let (status, _) = t.order(&token).await;
    assert_eq!(status, StatusCode::CREATED);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_users_do_not_interfere() {
    let t = std::sync::Arc::new(TestShop::start(ShopConfig::default()).await);
    let mut tasks = Vec::new();
    for user in 0..20 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let token = t.login(user).await;
            for round in 0..5u64 {
                let product = (user as u64 + round) % 100 + 1;
                t.add_to_cart(&token, product, 2).await;
                let (status, order) = t.order(&token).await;
                assert_eq!(status, StatusCode::CREATED, "{order}");
                assert_eq!(order["total_amount"], (10_000 + product * 1_000) * 2);
                let (status, paid) = t
                    .post(
                        CONFIRM,
                        Some(&token),
                        json!({"payment_key": "k", "order_id": order["order_id"], "amount": order["total_amount"]}),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{paid}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(t.shop.stats().served, 20 * (1 + 5 * 3));
}
