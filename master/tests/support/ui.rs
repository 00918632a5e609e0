//! The web UI under test: a [`Cluster`] with the UI router served on
//! 127.0.0.1 port 0, an HTTP client, and helpers to poll and check answers.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use stampede_master::run::LoadModel;
use stampede_master::web::{self, Auth, WebApp};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Cluster;

/// Two classes, each user requesting every 100 ms.
pub const YAML: &str = "name: web-test\nusers:\n  - name: Browser\n    wait: {constant: 100ms}\n    sequence: [{get: /api/products/}]\n  - name: Viewer\n    wait: {constant: 100ms}\n    sequence: [{get: /api/products/1/, name: \"/api/products/{id}/\"}]\n";

pub struct Ui {
    pub c: Cluster,
    pub url: String,
    pub http: reqwest::Client,
    stop: CancellationToken,
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Ui {
    pub async fn start(workers: usize, auth: Auth) -> Self {
        Self::with(workers, auth, YAML, None).await
    }

    pub async fn with(
        workers: usize,
        auth: Auth,
        yaml: &str,
        stages: Option<stampede_common::shape::Stages>,
    ) -> Self {
        let c = Cluster::start(workers).await;
        let mut template = super::template(c.plan(yaml, 4, 100.0));
        template.thresholds = vec!["fail_ratio<50%".parse().unwrap()];
        if let Some(st) = stages {
            template.load = LoadModel::Stages(st);
        }
        let stop = c.tasks().child_token();
        let app = WebApp::new(c.master.clone(), template);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        web::serve(listener, app, auth, c.tasks(), stop.clone());
        Self {
            c,
            url,
            http: reqwest::Client::new(),
            stop,
        }
    }

    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url))
    }

    pub async fn send(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        Self::send(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn text(&self, path: &str) -> (StatusCode, String, String) {
        let resp = self.req(reqwest::Method::GET, path).send().await.unwrap();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (resp.status(), ct, resp.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::send(self.req(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn post_form(&self, path: &str, form: &str) -> (StatusCode, Value) {
        let rb = self
            .req(reqwest::Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned());
        Self::send(rb).await
    }

    /// Polls `/api/stats` until `check` holds.
    pub async fn wait_stats(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        eventually(what, async || {
            let (_, s) = self.get("/api/stats").await;
            check(&s).then_some(s)
        })
        .await
    }

    /// Waits until the workers hold these users.
    pub async fn wait_workers(&self, want: &[u64]) {
        let want = want.to_vec();
        self.wait_stats(&format!("workers hold {want:?} users"), |s| {
            let mut got: Vec<u64> = s["workers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["users"].as_u64().unwrap())
                .collect();
            got.sort_unstable();
            got == want
        })
        .await;
    }
}

/// Polls `f` every 20 ms until it gives a value; panics after 30 s.
pub async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn assert_error(got: (StatusCode, Value), status: StatusCode, starts: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    let msg = got.1["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", got.1));
    assert!(
        msg.starts_with(starts),
        "{msg:?} should start with {starts:?}"
    );
    assert!(!msg.contains('\n'), "one line: {msg:?}");
    assert!(
        msg.starts_with(|c: char| !c.is_uppercase()),
        "lowercase: {msg:?}"
    );
}
