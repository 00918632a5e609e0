//! The web UI in a real headless Chromium, driven over WebDriver
//! (chromedriver + fantoccini): `stampede run --workers 2` serving the UI,
//! the `stampede shop` target; start a run from the form, watch the table
//! fill and the chart grow, change the users and see the workers follow,
//! stop, and download the CSV; a request name and an error message that
//! carry markup show as text and run nothing. Skips (loudly) only when chromium or
//! chromedriver is not installed. With `STAMPEDE_UI_SCREENSHOTS=DIR` it also
//! saves `ui-start.png`, `ui-running.png` and `ui-charts.png` into DIR.

mod common;

use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{ShopProcess, scenario, stampede_process};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Users at start, then after the change (each of the two workers holds half).
const USERS: u64 = 20;
const MORE_USERS: u64 = 40;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

/// `stampede run -f SCENARIO --host HOST` with two in-process workers, the
/// UI on a free port, and `extra` flags.
fn start_ui(scenario: &str, host: &str, extra: &[&str]) -> (Killed, String) {
    let mut child = Killed(
        stampede_process()
            .args(["run", "-f", scenario, "--host", host])
            .args(["--workers", "2", "--web-port", "0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut reader = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "stampede run exited before serving the ui"
        );
        if let Some(url) = line.trim().strip_prefix("web ui on ") {
            let url = url.to_owned();
            std::thread::spawn(move || {
                let mut rest = String::new();
                let _ = reader.read_to_string(&mut rest);
            });
            return (child, url);
        }
    }
}

/// chromedriver on a free port, once it accepts connections.
fn start_chromedriver(driver: &Path) -> (Killed, String) {
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Killed(
            Command::new(driver)
                .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (child, format!("http://127.0.0.1:{port}"));
            }
            if child.0.try_wait().unwrap().is_some() {
                break; // the port was taken meanwhile: try another
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("chromedriver did not start");
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Polls the condition (an expression that may `.await`) until it holds;
/// panics after 60 s.
macro_rules! until {
    ($what:expr, $cond:expr) => {{
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !$cond {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting until {}",
                $what
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }};
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// An element's text as written (WebDriver's text would apply the CSS
/// `text-transform` of badges).
async fn text(c: &Client, css: &str) -> String {
    let script = "return document.querySelector(arguments[0]).textContent";
    let v = c.execute(script, vec![json!(css)]).await.unwrap();
    v.as_str().unwrap_or_default().to_owned()
}

async fn screenshot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("STAMPEDE_UI_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(Path::new(&dir).join(name), png).unwrap();
    }
}

async fn chart_points(c: &Client) -> u64 {
    js(
        c,
        "return Number(document.getElementById('chart-rps').dataset.points || 0)",
    )
    .await
    .as_u64()
    .unwrap_or(0)
}

/// The workers tab's users column.
async fn worker_users(c: &Client) -> Vec<u64> {
    let v = js(c, "return [...document.querySelectorAll('#workers-body tr')].map(r => Number(r.cells[3].textContent))").await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap_or(0))
        .collect()
}

async fn drive(c: Client, url: String, shop: String) {
    c.set_window_size(1400, 900).await.unwrap();
    c.goto(&url).await.unwrap();
    // The start form opens by itself on a fresh master.
    until!("the start form shows", {
        js(&c, "return !document.getElementById('start-modal').hidden").await == true
    });
    let host = c.find(Locator::Css("#host")).await.unwrap();
    assert_eq!(
        host.prop("value").await.unwrap().as_deref(),
        Some(shop.as_str())
    );
    let classes = js(
        &c,
        "return [...document.querySelectorAll('#classes input:checked')].map(b => b.value)",
    )
    .await;
    assert_eq!(classes, json!(["WebsiteUser"]));
    fill(&c, "#users", &USERS.to_string()).await;
    fill(&c, "#spawn-rate", "20").await;
    screenshot(&c, "ui-start.png").await;
    click(&c, "#start-btn").await;

    // The table fills.
    until!("the stats table fills", {
        let rows = js(
            &c,
            "return document.querySelectorAll('#stats-body tr').length",
        )
        .await;
        rows.as_u64() >= Some(3) && text(&c, "#state").await == "running"
    });
    let total = js(
        &c,
        "return document.querySelector('#stats-total tr').cells[1].textContent",
    )
    .await;
    assert_eq!(total, "Aggregated");

    // Change the user count: each worker gets half.
    click(&c, "#edit-btn").await;
    fill(&c, "#edit-users", &MORE_USERS.to_string()).await;
    click(&c, "#apply-users").await;
    click(&c, "button[data-tab=workers]").await;
    until!("the workers hold the new users", {
        worker_users(&c).await == [MORE_USERS / 2, MORE_USERS / 2]
    });
    until!(
        "the header shows the new users",
        text(&c, "#m-users").await == format!("{MORE_USERS} / {MORE_USERS}")
    );

    // The chart grows.
    click(&c, "button[data-tab=charts]").await;
    until!("the chart has points", chart_points(&c).await >= 2);
    let before = chart_points(&c).await;
    until!("the chart grows", chart_points(&c).await > before);
    let path = js(
        &c,
        "return document.querySelector('#chart-rps path[data-series=rps]').getAttribute('d')",
    )
    .await;
    assert!(path.as_str().unwrap().matches('L').count() >= 2, "{path}");
    if std::env::var_os("STAMPEDE_UI_SCREENSHOTS").is_some() {
        until!("a minute of chart", chart_points(&c).await >= 60);
        screenshot(&c, "ui-charts.png").await;
        click(&c, "button[data-tab=stats]").await;
        screenshot(&c, "ui-running.png").await;
    }

    // Stop, then download the statistics CSV from its link.
    click(&c, "#stop-btn").await;
    until!("the run is stopped", text(&c, "#state").await == "stopped");
    click(&c, "button[data-tab=downloads]").await;
    let link = c.find(Locator::Css("#dl-stats")).await.unwrap();
    let href = link.prop("href").await.unwrap().unwrap();
    assert!(href.ends_with("/api/csv/stats"), "{href}");
    let csv = reqwest::get(&href).await.unwrap().text().await.unwrap();
    assert!(
        csv.starts_with("Type,Name,Request Count,Failure Count"),
        "{csv}"
    );
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows.len() >= 4, "{csv}");
    assert!(rows.last().unwrap().starts_with(",Aggregated,"), "{csv}");
}

/// Runs `steps` in headless Chromium through chromedriver, closing the
/// browser even when a step fails; skips loudly where either is missing.
async fn in_browser<F, Fut>(steps: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (Some(driver), Some(chrome)) = (
        which(&["chromedriver"]),
        which(&["chromium", "chromium-browser", "google-chrome"]),
    ) else {
        eprintln!(
            "\n\n*** SKIPPED: the browser test of the web ui needs chromium and chromedriver ***\n\
             *** apt-get install -y --no-install-recommends chromium chromium-driver ***\n\n"
        );
        return;
    };
    let (_driver, webdriver) = start_chromedriver(&driver);
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chrome,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,900", "--hide-scrollbars"]
        }
    });
    // chromedriver speaks plain http on loopback: no TLS connector needed.
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&webdriver)
        .await
        .unwrap();
    let steps = tokio::spawn(steps(client.clone())).await;
    let _ = client.close().await;
    if let Err(e) = steps {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_drives_a_cluster_run_in_a_real_browser() {
    let shop = ShopProcess::start(&["--latency", "5ms..40ms", "--error-rate", "0.01"]);
    let (_ui, url) = start_ui(&scenario("shop"), &shop.url, &["-u", "1", "-r", "1"]);
    let shop_url = shop.url.clone();
    in_browser(|c| drive(c, url, shop_url)).await;
}

/// A request name and an expectation (so its failure message) that carry
/// markup: the page must show them as text and run none of it.
const MARKUP: &str = r#"users:
  - name: Marked
    wait: {constant: 50ms}
    sequence:
      - get: /api/products/
        name: "<img src=x onerror=\"window.__xss=1\">"
        expect: {body_contains: "<script>window.__xss=2</script>"}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_errors_carrying_markup_show_as_text_in_the_browser() {
    let shop = ShopProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("markup.yaml");
    std::fs::write(&file, MARKUP).unwrap();
    let (_ui, url) = start_ui(
        file.to_str().unwrap(),
        &shop.url,
        &["-u", "2", "-r", "10", "--autostart"],
    );
    in_browser(|c| async move {
        c.goto(&url).await.unwrap();
        until!("the stats table shows the row", {
            js(&c, "return document.querySelectorAll('#stats-body tr').length").await == 1
        });
        let name = js(&c, "return document.querySelector('#stats-body td.name').textContent").await;
        assert_eq!(name, r#"<img src=x onerror="window.__xss=1">"#);
        click(&c, "button[data-tab=failures]").await;
        until!("the failures table shows the failure", {
            js(&c, "return document.querySelectorAll('#failures-body tr').length").await == 1
        });
        let error = js(&c, "return document.querySelector('#failures-body td.wrap').textContent").await;
        assert_eq!(error, "body does not contain `<script>window.__xss=2</script>`");
        let injected = js(
            &c,
            "return [document.querySelectorAll('main img, #stats-body script, #failures-body script').length, window.__xss === undefined]",
        )
        .await;
        assert_eq!(injected, json!([0, true]), "markup from the run became elements or ran");
    })
    .await;
}

#[test]
fn autostart_runs_at_once_and_autoquit_ends_the_process() {
    let shop = ShopProcess::start(&[]);
    let out = stampede_process()
        .args(["run", "-f", &scenario("browse"), "--host", &shop.url])
        .args(["-u", "4", "-r", "100", "-t", "1s", "--only-summary"])
        .args(["--web-port", "0", "--autostart", "--autoquit", "0"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("web ui on http://127.0.0.1:"), "{stderr}");
    assert!(stdout.contains("Aggregated"), "the summary: {stdout}");
}

#[test]
fn bad_web_flags_are_usage_errors() {
    for (args, want) in [
        (
            vec!["--web-login", "nopassword"],
            "--web-login: expected user:password",
        ),
        (
            vec!["--web-token", ""],
            "--web-token: the token must not be empty",
        ),
        (vec!["--autoquit", "5"], "--autostart"),
        (vec!["--headless", "--autostart"], "cannot be used with"),
    ] {
        let out = stampede_process()
            .args(["run", "-f", &scenario("browse"), "--web-port", "0"])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
