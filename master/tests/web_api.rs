//! The web UI's HTTP API over real HTTP on 127.0.0.1: a real master with
//! in-process workers over gRPC, the shop target, and the UI router; every
//! endpoint, bad input, and a new run after a stop. (Run times, shapes and
//! access control: `web_runs.rs`.)

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use stampede_master::report::csv::{
    EXCEPTIONS_HEADER, FAILURES_HEADER, HISTORY_HEADER, STATS_HEADER,
};
use stampede_master::web::Auth;
use support::ui::{Ui, assert_error, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_and_endpoints_before_any_run() {
    let ui = Ui::start(2, Auth::none()).await;
    let (st, ct, body) = ui.text("/").await;
    assert_eq!(st, 200);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(body.contains("<title>stampede</title>") && body.contains("app.js"));
    for (path, kind) in [
        ("/app.js", "text/javascript"),
        ("/charts.js", "text/javascript"),
        ("/style.css", "text/css"),
    ] {
        let (st, ct, body) = ui.text(path).await;
        assert_eq!(st, 200, "{path}");
        assert!(ct.starts_with(kind) && !body.is_empty(), "{path}: {ct}");
    }
    assert_eq!(ui.text("/healthz").await.2, "ok\n");
    let (st, _, metrics) = ui.text("/metrics").await;
    assert_eq!(st, 200);
    assert!(metrics.contains("stampede_workers"), "{metrics}");

    let (st, sc) = ui.get("/api/scenario").await;
    assert_eq!(st, 200);
    assert_eq!(sc["name"], "web-test");
    assert_eq!(sc["classes"][0]["name"], "Browser");
    assert_eq!(sc["classes"][1]["name"], "Viewer");
    assert_eq!(sc["defaults"]["users"], 4);
    assert_eq!(sc["defaults"]["host"], ui.c.shop_url.as_str());
    assert_eq!(sc["thresholds"], json!(["fail_ratio<50%"]));

    let s = ui
        .wait_stats("2 workers are listed", |s| s["worker_count"] == 2)
        .await;
    assert_eq!(s["state"], "ready");
    assert_eq!(s["run"], Value::Null);
    assert_eq!(s["stats"], json!([]));
    let (_, w) = ui.get("/api/workers").await;
    assert_eq!(w["workers"].as_array().unwrap().len(), 2);
    assert_eq!(w["workers"][0]["state"], "ready");
    assert_eq!(
        ui.get("/api/history").await.1,
        json!({"run_id": null, "points": []})
    );

    assert_error(
        ui.get("/api/report.json").await,
        StatusCode::NOT_FOUND,
        "no run yet",
    );
    assert_error(
        ui.get("/api/csv/stats").await,
        StatusCode::NOT_FOUND,
        "no run yet",
    );
    assert_error(
        ui.post("/api/stop", json!({})).await,
        StatusCode::CONFLICT,
        "no run is in progress",
    );
    assert_error(
        ui.post("/api/users", json!({"users": 3})).await,
        StatusCode::CONFLICT,
        "no run is in progress",
    );
    assert_error(
        ui.post("/api/reset", json!({})).await,
        StatusCode::CONFLICT,
        "no run is in progress",
    );
    assert_error(
        ui.get("/api/nope").await,
        StatusCode::NOT_FOUND,
        "not found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_watch_change_reset_stop_download_and_start_again() {
    let ui = Ui::start(2, Auth::none()).await;
    let (st, started) = ui
        .post("/api/swarm", json!({"users": 6, "spawn_rate": 100}))
        .await;
    assert_eq!(st, 200, "{started}");
    let run_id = started["run_id"].as_u64().expect("a run id");
    assert_eq!(started["host"], ui.c.shop_url.as_str());
    assert_error(
        ui.post("/api/swarm", json!({"users": 1})).await,
        StatusCode::CONFLICT,
        "a run is already in progress",
    );
    ui.wait_workers(&[3, 3]).await;
    let s = ui
        .wait_stats("requests are counted", |s| {
            s["state"] == "running" && s["total"]["requests"].as_u64() > Some(0)
        })
        .await;
    assert_eq!(s["user_count"], 6);
    assert_eq!(s["run"]["users"], 6);
    assert_eq!(s["total"]["name"], "Aggregated");
    assert!(s["total"]["percentiles_ms"]["p95"].is_number());
    assert!(s["total"]["current_rps"].is_number());
    assert_eq!(s["thresholds"][0]["threshold"], "fail_ratio<50%");
    assert_eq!(s["thresholds"][0]["passed"], true);
    assert_eq!(s["workers"][0]["state"], "running");

    // Chart points arrive once a second; `since` returns only newer ones.
    let points = eventually("chart points arrive", async || {
        let p = ui.get("/api/history?since=0").await.1["points"].clone();
        (p.as_array()?.len() >= 2).then(|| p.as_array().unwrap().clone())
    })
    .await;
    assert!(points[0]["rps"].is_number() && points[0]["p99_ms"].is_number());
    let last = points.last().unwrap()["t"].as_i64().unwrap();
    let (_, newer) = ui.get(&format!("/api/history?since={last}")).await;
    assert_eq!(newer["run_id"], run_id);
    assert!(
        newer["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["t"].as_i64() > Some(last))
    );
    assert_error(
        ui.get("/api/history?since=soon").await,
        StatusCode::BAD_REQUEST,
        "invalid since `soon`",
    );

    // Change the users: the workers follow.
    let (st, changed) = ui
        .post("/api/users", json!({"users": 10, "spawn_rate": 50}))
        .await;
    assert_eq!(
        (st, changed),
        (StatusCode::OK, json!({"users": 10, "spawn_rate": 50.0}))
    );
    ui.wait_workers(&[5, 5]).await;
    assert_error(
        ui.post("/api/users", json!({"users": -1})).await,
        StatusCode::BAD_REQUEST,
        "invalid users `-1`",
    );
    assert_error(
        ui.post("/api/users", json!({"users": 2, "spawn_rate": 0}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid spawn rate `0`",
    );
    assert_error(
        ui.post("/api/users", json!({})).await,
        StatusCode::BAD_REQUEST,
        "missing users",
    );

    // Downloads during the run hold the numbers so far.
    let (st, ct, csv) = ui.text("/api/csv/stats").await;
    assert_eq!(st, 200);
    assert!(ct.starts_with("text/csv"));
    assert!(
        csv.starts_with(STATS_HEADER) && csv.contains(",Aggregated,"),
        "{csv}"
    );
    let (_, report) = ui.get("/api/report.json").await;
    assert_eq!(report["schema"], "stampede-report/2");

    assert_eq!(
        ui.post("/api/reset", json!({})).await,
        (StatusCode::OK, json!({"reset": true}))
    );
    // The history starts again at the reset: a second of it with requests.
    eventually("a second of history after the reset", async || {
        let (_, h) = ui.get("/api/history").await;
        h["points"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["rps"].as_f64() > Some(0.0)))
            .then_some(())
    })
    .await;

    let (st, stopped) = ui.post("/api/stop", json!({})).await;
    assert_eq!(st, 200, "{stopped}");
    assert_eq!(stopped["passed"], true);
    let s = ui.get("/api/stats").await.1;
    assert_eq!(s["state"], "stopped");
    assert_eq!(s["run"]["id"], run_id);
    assert_eq!(s["run"]["stop_reason"], "interrupted");
    assert_eq!(s["total"]["requests"], stopped["requests"]);
    assert_error(
        ui.post("/api/stop", json!({})).await,
        StatusCode::CONFLICT,
        "no run is in progress",
    );

    // After the stop, the finished run's files.
    for (kind, header) in [
        ("stats", STATS_HEADER),
        ("history", HISTORY_HEADER),
        ("failures", FAILURES_HEADER),
        ("exceptions", EXCEPTIONS_HEADER),
    ] {
        let (st, _, body) = ui.text(&format!("/api/csv/{kind}")).await;
        assert_eq!(st, 200, "{kind}");
        assert!(body.starts_with(header), "{kind}: {body}");
    }
    let (_, _, full) = ui.text("/api/csv/history?full_history=true").await;
    assert!(full.contains("/api/products/"), "{full}");
    assert_error(
        ui.get("/api/csv/bogus").await,
        StatusCode::NOT_FOUND,
        "unknown csv `bogus`",
    );
    let (_, report) = ui.get("/api/report.json").await;
    assert_eq!(report["run"]["stop_reason"], "interrupted");
    assert_eq!(report["total"]["requests"], stopped["requests"]);
    let (st, ct, html) = ui.text("/api/report.html").await;
    assert_eq!(st, 200);
    assert!(
        ct.starts_with("text/html") && html.contains("<html"),
        "{ct}"
    );
    let (_, h) = ui.get("/api/history").await;
    assert_eq!(h["run_id"], run_id);

    // A new run after the stop, with Locust's form fields and one class.
    let (st, again) = ui
        .post_form(
            "/api/swarm",
            "user_count=2&spawn_rate=50&user_classes=Viewer",
        )
        .await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["run_id"], run_id + 1, "run ids increase");
    assert_eq!(again["classes"], json!(["Viewer"]));
    let s = ui
        .wait_stats("the new run counts requests", |s| {
            s["run"]["id"] == run_id + 1 && s["total"]["requests"].as_u64() > Some(0)
        })
        .await;
    for row in s["stats"].as_array().unwrap() {
        assert_eq!(row["name"], "/api/products/{id}/", "only Viewer users run");
    }
    assert_eq!(ui.post("/api/stop", json!({})).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_message() {
    let ui = Ui::start(1, Auth::none()).await;
    let bad = StatusCode::BAD_REQUEST;
    let cases = [
        (
            json!({"users": -5}),
            "invalid users `-5`: expected a whole number of 0 or more",
        ),
        (json!({"users": "many"}), "invalid users `many`"),
        (json!({"users": 0}), "invalid users `0`: expected 1 to"),
        (
            json!({"users": 100_000_000}),
            "invalid users `100000000`: expected 1 to",
        ),
        (
            json!({"spawn_rate": 0}),
            "invalid spawn rate `0`: expected a number of users per second above 0",
        ),
        (json!({"spawn_rate": -1.5}), "invalid spawn rate `-1.5`"),
        (
            json!({"host": "not a url"}),
            "invalid host `not a url`: expected a url like http://127.0.0.1:8000",
        ),
        (
            json!({"host": "ftp://example.com"}),
            "invalid host `ftp://example.com`",
        ),
        (
            json!({"classes": ["Nope"]}),
            "unknown user class `Nope` (the scenario has: Browser, Viewer)",
        ),
        (
            json!({"run_time": "soon"}),
            "run time: invalid duration `soon`",
        ),
        (json!({"run_time": 0}), "run time must be above 0"),
        (json!([1, 2]), "invalid body: expected a json object"),
    ];
    for (body, want) in cases {
        assert_error(ui.post("/api/swarm", body).await, bad, want);
    }
    assert_error(
        ui.post_form("/api/swarm", "user_count=-1").await,
        bad,
        "invalid users `-1`",
    );
    let malformed = ui
        .req(reqwest::Method::POST, "/api/swarm")
        .header("content-type", "application/json")
        .body("{\"users\": ");
    assert_error(Ui::send(malformed).await, bad, "invalid json body");
    let multipart = ui
        .req(reqwest::Method::POST, "/api/swarm")
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x--");
    assert_error(
        Ui::send(multipart).await,
        bad,
        "unsupported content type `multipart/form-data`",
    );
    assert_eq!(
        ui.get("/api/stats").await.1["state"],
        "ready",
        "nothing started"
    );
}
