//! Runs the web UI starts, over real HTTP on 127.0.0.1 with a real master
//! and workers: a run time that ends the run, no start without a worker,
//! access control, and runs that follow a load shape.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use stampede_master::web::Auth;
use support::ui::{Ui, YAML, assert_error, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_time_ends_the_run_and_every_request_is_counted() {
    let ui = Ui::start(2, Auth::none()).await;
    let (st, started) = ui
        .post(
            "/api/swarm",
            json!({"users": 4, "spawn_rate": 100, "run_time": "1s"}),
        )
        .await;
    assert_eq!(st, 200, "{started}");
    assert_eq!(started["run_time_s"], 1.0);
    let s = ui
        .wait_stats("the run ends by itself", |s| s["state"] == "stopped")
        .await;
    assert_eq!(s["run"]["stop_reason"], "run_time");
    let (_, report) = ui.get("/api/report.json").await;
    assert_eq!(report["run"]["stop_reason"], "run_time");
    assert_eq!(report["total"]["requests"].as_u64(), Some(ui.c.served()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_worker_no_start() {
    let ui = Ui::start(0, Auth::none()).await;
    assert_error(
        ui.post("/api/swarm", json!({})).await,
        StatusCode::CONFLICT,
        "no worker is connected yet",
    );
    assert_eq!(ui.get("/api/stats").await.1["state"], "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_or_token_is_required_when_configured() {
    let ui = Ui::start(1, Auth::new(Some("admin:s3cret"), Some("tok3n")).unwrap()).await;
    // Every route but /healthz: the page and its assets, the API, the
    // downloads, the metrics, and paths that do not exist.
    let routes = [
        ("GET", "/"),
        ("GET", "/app.js"),
        ("GET", "/charts.js"),
        ("GET", "/style.css"),
        ("GET", "/api/scenario"),
        ("GET", "/api/stats"),
        ("GET", "/api/history"),
        ("GET", "/api/workers"),
        ("GET", "/api/report.json"),
        ("GET", "/api/report.html"),
        ("GET", "/api/csv/stats"),
        ("GET", "/api/csv/stats_history"),
        ("GET", "/api/csv/failures"),
        ("GET", "/api/csv/exceptions"),
        ("GET", "/metrics"),
        ("GET", "/no/such/page"),
        ("POST", "/api/swarm"),
        ("POST", "/api/users"),
        ("POST", "/api/stop"),
        ("POST", "/api/reset"),
    ];
    for (method, path) in routes {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = ui.req(method, path).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        let challenges: Vec<_> = resp.headers().get_all("www-authenticate").iter().collect();
        assert!(
            challenges
                .iter()
                .any(|v| v.to_str().unwrap().starts_with("Basic realm="))
        );
        assert!(
            challenges
                .iter()
                .any(|v| v.to_str().unwrap().starts_with("Bearer realm="))
        );
    }
    assert_error(
        ui.post("/api/swarm", json!({})).await,
        StatusCode::UNAUTHORIZED,
        "authentication required",
    );
    let wrong = ui
        .req(reqwest::Method::GET, "/api/stats")
        .basic_auth("admin", Some("guess"));
    assert_eq!(Ui::send(wrong).await.0, 401);
    let wrong = ui
        .req(reqwest::Method::GET, "/api/stats")
        .bearer_auth("guess");
    assert_eq!(Ui::send(wrong).await.0, 401);
    assert_eq!(
        ui.text("/healthz").await.0,
        200,
        "probes need no credentials"
    );

    let basic = ui
        .req(reqwest::Method::GET, "/api/stats")
        .basic_auth("admin", Some("s3cret"));
    let (st, s) = Ui::send(basic).await;
    assert_eq!((st, s["state"].as_str()), (StatusCode::OK, Some("ready")));
    let bearer = ui
        .req(reqwest::Method::GET, "/metrics")
        .bearer_auth("tok3n");
    assert_eq!(Ui::send(bearer).await.0, 200);

    // The token in the page's address once; a cookie keeps it.
    let resp = ui
        .req(reqwest::Method::GET, "/?token=tok3n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = ui
        .req(reqwest::Method::GET, "/api/stats")
        .header("cookie", pair);
    assert_eq!(Ui::send(with_cookie).await.0, 200);

    // A page whose domain was rebound to 127.0.0.1 reaches nothing, with
    // credentials or without; a loopback name is answered.
    for host in ["evil.example", "evil.example:8089"] {
        let rebound = ui
            .req(reqwest::Method::GET, "/api/stats")
            .basic_auth("admin", Some("s3cret"))
            .header("host", host);
        assert_error(
            Ui::send(rebound).await,
            StatusCode::FORBIDDEN,
            "this web ui listens on loopback and answers only to localhost",
        );
    }
    let local = ui
        .req(reqwest::Method::GET, "/api/stats")
        .basic_auth("admin", Some("s3cret"))
        .header("host", "localhost");
    assert_eq!(Ui::send(local).await.0, 200);

    // Another site's page cannot start load, even with the browser's credentials.
    let cross = ui
        .req(reqwest::Method::POST, "/api/swarm")
        .basic_auth("admin", Some("s3cret"))
        .header("origin", "https://evil.example")
        .json(&json!({}));
    assert_error(
        Ui::send(cross).await,
        StatusCode::FORBIDDEN,
        "cross-origin request refused",
    );
    let ok = ui
        .req(reqwest::Method::POST, "/api/swarm")
        .basic_auth("admin", Some("s3cret"))
        .header("origin", ui.url.clone())
        .json(&json!({"users": 1}));
    assert_eq!(Ui::send(ok).await.0, 200);
}

/// Starts a run that follows its shape: the workers reach `users`, a
/// change of users is refused, the shape ends the run; its JSON report.
async fn follow_the_shape(ui: &Ui, users: &[u64]) -> serde_json::Value {
    let (status, _) = ui
        .post("/api/swarm", json!({"user_count": 1, "spawn_rate": 1}))
        .await;
    assert_eq!(status, StatusCode::OK);
    ui.wait_workers(users).await;
    assert_error(
        ui.post("/api/users", json!({"user_count": 10})).await,
        StatusCode::CONFLICT,
        "the run follows its load shape",
    );
    eventually("the shape ends the run", async || {
        let (_, s) = ui.get("/api/stats").await;
        (s["state"] == "stopped").then_some(())
    })
    .await;
    ui.get("/api/report.json").await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_runs_follow_stages_and_arrival_rates() {
    // Stages: 0 -> 6 users over 1 s, held for 1 s; the run ends with the shape.
    let ui = Ui::with(2, Auth::none(), YAML, Some("1s:6,1s:6".parse().unwrap())).await;
    let report = follow_the_shape(&ui, &[3, 3]).await;
    assert_eq!(report["run"]["load"]["model"], "stages");
    assert_eq!(report["run"]["stop_reason"], "run_time");
    drop(ui);

    // An arrival rate: iterations on schedule, the target rate in the history.
    let yaml = "arrival_rate: {rate: 20/s, duration: 4s, max_users: 10}\nusers:\n  - name: V\n    sequence: [{get: /api/products/1/}]\n";
    let ui = Ui::with(2, Auth::none(), yaml, None).await;
    let (status, _) = ui
        .post("/api/swarm", json!({"user_count": 1, "spawn_rate": 1}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, h) = eventually("a history point with a target rate", async || {
        let (st, h) = ui.get("/api/history").await;
        h["points"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p["target_rate"] == 20.0))
            .then_some((st, h))
    })
    .await;
    assert!(h["points"][0].get("iterations_per_s").is_some());
    assert_error(
        ui.post("/api/users", json!({"user_count": 10})).await,
        StatusCode::CONFLICT,
        "the run follows its load shape",
    );
    eventually("the arrival rate ends the run", async || {
        let (_, s) = ui.get("/api/stats").await;
        (s["state"] == "stopped").then_some(())
    })
    .await;
    let (_, report) = ui.get("/api/report.json").await;
    assert_eq!(report["run"]["load"]["model"], "arrival_rate");
    let done = report["iterations"]["completed"].as_u64().unwrap();
    assert!((75..=81).contains(&done), "{done} of 80 iterations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_runs_follow_a_load_shape_as_code() {
    let yaml = "script: |\n  function shape(t)\n    if t < 1.5 then return { users = 4, spawn_rate = 100 } end\n    return nil\n  end\nshape: shape\nusers:\n  - name: V\n    wait: {constant: 50ms}\n    sequence: [{get: /api/products/1/}]\n";
    let ui = Ui::with(2, Auth::none(), yaml, None).await;
    let report = follow_the_shape(&ui, &[2, 2]).await;
    assert_eq!(report["run"]["load"]["model"], "shape");
    assert_eq!(report["run"]["load"]["function"], "shape");
    assert_eq!(report["run"]["stop_reason"], "run_time");
}
