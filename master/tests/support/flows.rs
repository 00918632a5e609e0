//! A target whose flows need logic: requests signed with an HMAC over
//! method, path, timestamp and body with a per-session key; a listing paged
//! until `next` is null, whose `keep` items' ids and price sum must be
//! posted back; a job that is done after a few polls. It counts every
//! request it answers and every one it refuses, so a test can hold the
//! load tester's counts against the target's own.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// Page lengths of the listing: the flow must follow `next`, not count.
pub const PAGES: [usize; 4] = [3, 5, 2, 4];
/// Polls a job answers `pending` before it is `done`.
pub const POLLS_UNTIL_DONE: u64 = 3;

#[derive(Default)]
pub struct Counts {
    /// Requests answered, refused ones included.
    pub served: AtomicU64,
    /// Requests refused: a bad signature, a wrong order, an unknown job.
    pub refused: AtomicU64,
    pub signed_ok: AtomicU64,
    pub orders_ok: AtomicU64,
    pub jobs_done: AtomicU64,
}

#[derive(Default)]
struct Inner {
    counts: Counts,
    keys: Mutex<HashMap<String, String>>,
    jobs: Mutex<HashMap<u64, u64>>,
    next_id: AtomicU64,
}

type App = Arc<Inner>;

pub struct FlowTarget {
    pub addr: SocketAddr,
    inner: App,
}

impl FlowTarget {
    pub async fn start() -> Self {
        let inner = App::default();
        let app = Router::new()
            .route("/session", post(session))
            .route("/signed/{*rest}", post(signed).get(signed))
            .route("/items", get(items))
            .route("/orders", post(order))
            .route("/jobs", post(new_job))
            .route("/jobs/{id}", get(poll_job))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn counts(&self) -> &Counts {
        &self.inner.counts
    }
}

fn served(app: &App, ok: bool) {
    app.counts.served.fetch_add(1, Ordering::Relaxed);
    if !ok {
        app.counts.refused.fetch_add(1, Ordering::Relaxed);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn session(State(app): State<App>) -> Json<Value> {
    served(&app, true);
    let id = app.next_id.fetch_add(1, Ordering::Relaxed);
    let key = format!("key-{id}-{}", fastrand_key(id));
    let session = format!("s{id}");
    app.keys
        .lock()
        .unwrap()
        .insert(session.clone(), key.clone());
    Json(json!({"session": session, "key": key}))
}

fn fastrand_key(id: u64) -> u64 {
    id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20
}

async fn signed(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let key = app.keys.lock().unwrap().get(&h("x-session")).cloned();
    let Some(key) = key else {
        served(&app, false);
        return (StatusCode::UNAUTHORIZED, "unknown session").into_response();
    };
    let msg = format!(
        "{}\n{}\n{}\n{}",
        method.as_str(),
        uri.path(),
        h("x-timestamp"),
        String::from_utf8_lossy(&body)
    );
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    let want = hex(ring::hmac::sign(&k, msg.as_bytes()).as_ref());
    if h("x-signature") != want || h("x-timestamp").is_empty() {
        served(&app, false);
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    served(&app, true);
    app.counts.signed_ok.fetch_add(1, Ordering::Relaxed);
    Json(json!({"ok": true})).into_response()
}

/// Item `i` of page `p`: ids are unique, every third is kept.
fn page(p: usize) -> Vec<Value> {
    let start: usize = PAGES[..p - 1].iter().sum();
    (start..start + PAGES[p - 1])
        .map(|id| json!({"id": id, "price": 10 + id, "tag": if id % 3 == 0 { "keep" } else { "skip" }}))
        .collect()
}

/// The order the flow must post: the kept ids in order and their price sum.
pub fn expected_order() -> (Vec<u64>, u64) {
    let all: Vec<Value> = (1..=PAGES.len()).flat_map(page).collect();
    let kept: Vec<&Value> = all.iter().filter(|i| i["tag"] == "keep").collect();
    (
        kept.iter().map(|i| i["id"].as_u64().unwrap()).collect(),
        kept.iter().map(|i| i["price"].as_u64().unwrap()).sum(),
    )
}

async fn items(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    let p: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    if !(1..=PAGES.len()).contains(&p) {
        served(&app, false);
        return (StatusCode::NOT_FOUND, "no such page").into_response();
    }
    served(&app, true);
    let next = (p < PAGES.len()).then(|| format!("/items?page={}", p + 1));
    Json(json!({"items": page(p), "next": next})).into_response()
}

async fn order(State(app): State<App>, Json(body): Json<Value>) -> Response {
    let (ids, total) = expected_order();
    let got_ids: Option<Vec<u64>> = body["ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect());
    if got_ids.as_ref() != Some(&ids) || body["total"].as_f64() != Some(total as f64) {
        served(&app, false);
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("wrong order {body}"),
        )
            .into_response();
    }
    served(&app, true);
    app.counts.orders_ok.fetch_add(1, Ordering::Relaxed);
    Json(json!({"status": "accepted"})).into_response()
}

async fn new_job(State(app): State<App>) -> Json<Value> {
    served(&app, true);
    let id = app.next_id.fetch_add(1, Ordering::Relaxed);
    app.jobs.lock().unwrap().insert(id, 0);
    Json(json!({"id": id}))
}

async fn poll_job(State(app): State<App>, Path(id): Path<u64>) -> Response {
    let polls = {
        let mut jobs = app.jobs.lock().unwrap();
        match jobs.get_mut(&id) {
            Some(n) => {
                *n += 1;
                *n
            }
            None => {
                drop(jobs);
                served(&app, false);
                return (StatusCode::NOT_FOUND, "no such job").into_response();
            }
        }
    };
    served(&app, true);
    if polls > POLLS_UNTIL_DONE {
        app.counts.jobs_done.fetch_add(1, Ordering::Relaxed);
        Json(json!({"status": "done", "polls": polls})).into_response()
    } else {
        Json(json!({"status": "pending", "polls": polls})).into_response()
    }
}
