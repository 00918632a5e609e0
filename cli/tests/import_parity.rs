//! The imported scenario sends what Locust sends. One locustfile with every
//! construct the importer translates (import/tests/locustfiles/constructs.py)
//! and one with helpers, nested task sets and loops (helpers.py) are run
//! by real Locust (2.47.0 from PyPI; `.ci/run` installs it into
//! target/ci-venv) and by `stampede run -f constructs.py` (converted on the
//! fly), one user class at a time, against one recording server on port 0.
//! The requests the server saw (method, path, query, body, the headers the
//! file sets) match in order; for the class whose tasks are random, the set
//! of distinct requests matches.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request as the target saw it, with the values that change per run
/// (uuids, times, random floats) replaced by their kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    method: String,
    path: String,
    query: String,
    body: String,
    authorization: String,
    trace: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn normalize(v: &mut Value) {
    if let Value::Object(m) = v {
        for (k, x) in m.iter_mut() {
            match (k.as_str(), &*x) {
                ("id", Value::String(s)) if s.len() == 36 => *x = json!("<uuid>"),
                ("at" | "r", Value::Number(_)) => *x = json!("<number>"),
                _ => normalize(x),
            }
        }
    }
}

async fn record(log: Log, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .collect();
    query.sort();
    let body = match serde_json::from_slice::<Value>(&body) {
        Ok(mut v) if h("content-type").starts_with("application/json") => {
            normalize(&mut v);
            format!("json {v}")
        }
        _ => format!("{} {}", h("content-type"), String::from_utf8_lossy(&body)),
    };
    log.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: query.join("&"),
        body,
        authorization: h("authorization"),
        trace: h("x-trace"),
    });
    match uri.path() {
        "/login" => axum::Json(json!({"token": "t1", "cart": "c9"})).into_response(),
        "/status" => axum::Json(json!({"state": "ready"})).into_response(),
        "/health" => "ok".into_response(),
        _ => axum::Json(json!({})).into_response(),
    }
}

/// A recording server on its own thread; its address and log.
fn recorder() -> (SocketAddr, Log) {
    let log = Log::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let l = log.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app =
                axum::Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap, b: Bytes| {
                    record(l.clone(), m, u, h, b)
                });
            axum::serve(listener, app).await.unwrap();
        });
    });
    (rx.recv().unwrap(), log)
}

fn locust() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidates = [
        std::env::var_os("STAMPEDE_LOCUST").map(PathBuf::from),
        Some(root.join("target/ci-venv/bin/locust")),
        Some(root.join("bench/.venv/bin/locust")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .expect("locust is not installed: `bash .ci/run` installs it (pip install locust==2.47.0 into target/ci-venv), or set STAMPEDE_LOCUST")
}

fn locustfile(name: &str) -> String {
    format!(
        "{}/../import/tests/locustfiles/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// What the target saw of `class`'s one user (of constructs.py) during a
/// 2 s run by Locust and by stampede.
fn both(class: &str) -> (Vec<Seen>, Vec<Seen>) {
    both_with("constructs.py", class, &[])
}

/// [`both`] for a class of `file`, with more flags for both tools.
fn both_with(file: &str, class: &str, flags: &[&str]) -> (Vec<Seen>, Vec<Seen>) {
    let file = locustfile(file);
    let run = |cmd: &mut Command| -> Vec<Seen> {
        let (addr, log) = recorder();
        let host = format!("http://{addr}");
        let out = cmd
            .args([
                "--headless",
                "-u",
                "1",
                "-r",
                "1",
                "-t",
                "2s",
                "--host",
                &host,
                "--only-summary",
            ])
            .output()
            .unwrap();
        let seen = log.lock().unwrap().clone();
        assert!(
            !seen.is_empty(),
            "no request: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        seen
    };
    let by_locust = run(Command::new(locust())
        .args(["-f", &file])
        .args(flags)
        .arg(class));
    let by_stampede = run(common::stampede_process()
        .args(["run", "-f", &file, "--class", class])
        .args(flags));
    (by_locust, by_stampede)
}

/// The first `n` requests of `class`'s user, the same from both, in order.
fn same_first(class: &str, n: usize) -> Vec<Seen> {
    same_first_in("constructs.py", class, n)
}

/// [`same_first`] for a class of `file`.
fn same_first_in(file: &str, class: &str, n: usize) -> Vec<Seen> {
    let (locust, stampede) = both_with(file, class, &[]);
    assert!(
        locust.len() >= n && stampede.len() >= n,
        "{} / {}",
        locust.len(),
        stampede.len()
    );
    assert_eq!(
        &stampede[..n],
        &locust[..n],
        "the first {n} requests, in order"
    );
    locust
}

#[test]
fn a_sequential_task_set_with_interrupt_sends_what_locust_sends() {
    let locust = same_first("Shopper", 10);
    assert_eq!(locust[1].authorization, "Bearer t1");
}

#[test]
fn requests_options_bodies_and_branches_match_locust() {
    // One pass of the task.
    same_first("Api", 8);
}

#[test]
fn a_module_level_task_function_sends_what_locust_sends() {
    same_first("Fn", 3);
}

fn distinct(v: &[Seen]) -> Vec<Seen> {
    let mut d: Vec<Seen> = v.to_vec();
    d.sort();
    d.dedup();
    d
}

#[test]
fn a_weighted_task_set_sends_the_same_requests_as_locust() {
    let (locust, stampede) = both("Visitor");
    assert_eq!(distinct(&locust).len(), 2);
    assert_eq!(distinct(&stampede), distinct(&locust));
}

#[test]
fn tags_select_the_same_tasks_as_locust() {
    let (locust, stampede) = both_with("constructs.py", "Visitor", &["--tags", "list"]);
    assert_eq!(distinct(&locust).len(), 1, "only the tagged task");
    assert_eq!(distinct(&stampede), distinct(&locust));
    let (locust, stampede) = both_with("constructs.py", "Visitor", &["--exclude-tags", "list"]);
    assert_eq!(distinct(&locust).len(), 1, "all but the tagged task");
    assert_eq!(distinct(&stampede), distinct(&locust));
}

#[test]
fn inlined_helpers_and_a_while_loop_send_what_locust_sends() {
    // The login of on_start, then one pass of the task.
    let locust = same_first_in("helpers.py", "Helpers", 8);
    assert_eq!(locust[1].authorization, "Bearer t1");
    assert_eq!(locust[2].body, r#"json {"quantity":1,"sku":"A-1"}"#);
}

#[test]
fn a_task_set_inside_a_task_set_sends_the_same_requests_as_locust() {
    let (locust, stampede) = both_with("helpers.py", "Nested", &[]);
    assert_eq!(distinct(&locust).len(), 3, "own, outer and inner");
    assert_eq!(distinct(&stampede), distinct(&locust));
}
