//! Shared helpers: a shop served on 127.0.0.1:0 and a few request shortcuts.
#![allow(dead_code)]

use std::net::SocketAddr;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use stampede_shop::{PASSWORD, Shop, ShopConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestShop {
    pub shop: Shop,
    pub addr: SocketAddr,
    pub base: String,
    pub client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestShop {
    pub async fn start(config: ShopConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shop = Shop::new(config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(shop.clone().serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            shop,
            addr,
            base: format!("http://{addr}"),
            client: Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server gracefully and checks it exited cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // drop our pooled keep-alive connections so graceful shutdown can finish
            self.client = Client::new();
            task.await.unwrap().unwrap();
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self.client.get(self.url(path)).send().await.unwrap();
        read(resp).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn login(&self, user: usize) -> String {
        let (status, body) = self
            .post(
                "/api/auth/login/",
                None,
                json!({"username": format!("load_test_user_{user}"), "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access"].as_str().unwrap().to_owned()
    }

    pub async fn add_to_cart(&self, token: &str, product: u64, quantity: u32) {
        let (status, body) = self
            .post(
                "/api/cart/items/",
                Some(token),
                json!({"product": product, "quantity": quantity}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn order(&self, token: &str) -> (StatusCode, Value) {
        self.post("/api/orders/", Some(token), shipping()).await
    }
}

pub fn shipping() -> Value {
    json!({
        "shipping_name": "홍길동",
        "shipping_phone": "010-1234-5678",
        "shipping_postal_code": "06234",
        "shipping_address": "서울시 강남구 테헤란로 123",
        "shipping_address_detail": "4층",
    })
}

async fn read(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("non-json body {text:?}: {err}"))
    };
    (status, body)
}
