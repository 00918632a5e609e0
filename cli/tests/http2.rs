//! HTTP/2 to real servers: nginx with `http2` over TLS (ALPN h2, with a
//! certificate made here) and the demo shop in cleartext (prior knowledge),
//! with the session's features (cookies, session headers, redirects, gzip,
//! expectations, extraction) and counts equal to the server's; HTTP/1.1
//! over TLS where the server offers no h2; shared connections; TLS session
//! resumption seen by nginx; and clear failures where the server does not
//! speak HTTP/2.

mod common;

use common::servers::Site;
use common::{ShopProcess, scenario, stampede, summary_count};

/// Login sets a cookie; `/old` redirects to `/me`, which wants the cookie
/// and answers gzipped JSON; `/hello/` wants the session header.
const LOCATIONS: &str = r#"
location = /login { add_header Set-Cookie "sid=abc; Path=/"; return 200 "in\n"; }
location = /old { return 302 /me; }
location = /me { default_type application/json; if ($cookie_sid != "abc") { return 401; }
  return 200 '{"user":"alice","pad":"padding padding padding padding padding padding"}'; }
location /hello/ { if ($http_x_token != "secret") { return 403; } return 200 "hi\n"; }
location / { return 200 "ok\n"; }
"#;

const SESSION: &str = r#"
users:
  - name: U
    headers: {x-token: secret}
    wait: {constant: 20ms}
    on_start:
      - get: /login
    sequence:
      - get: /old
        name: me
        expect: {status: 200, jsonpath: {$.user: alice}}
        extract: {who: {jsonpath: $.user}}
      - get: /hello/{{ who }}
        name: hello
"#;

fn setup() -> Site {
    Site::start(LOCATIONS, SESSION)
}

impl Site {
    /// Runs the session scenario against `host` with `extra` flags; the
    /// exit status, stdout and the JSON report.
    fn run(&self, host: &str, extra: &[&str]) -> (bool, String, serde_json::Value) {
        let json = self.dir.path().join("r.json");
        let out = stampede()
            .args(["run", "-f"])
            .arg(self.scenario())
            .args(["--headless", "-r", "100", "-t", "2s", "--only-summary"])
            .args(if extra.contains(&"-u") {
                &[][..]
            } else {
                &["-u", "4"][..]
            })
            .args(["--host", host, "--ca-cert"])
            .arg(&self.certs.cert)
            .arg("--json")
            .arg(&json)
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (out.status.success(), stdout, report)
    }
}

/// (requests, failures) of the endpoint `name` in a JSON report.
fn endpoint(report: &serde_json::Value, name: &str) -> (u64, u64) {
    let e = report["stats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no endpoint {name} in {report}"));
    (
        e["requests"].as_u64().unwrap(),
        e["failures"].as_u64().unwrap(),
    )
}

#[test]
fn auto_negotiates_h2_over_tls_and_every_session_feature_works() {
    let s = setup();
    let (ok, stdout, report) = s.run(&format!("https://localhost:{}", s.nginx.h2), &[]);
    assert!(ok, "{stdout}");
    let lines = s.nginx.requests();
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|l| l[0] == "HTTP/2.0"),
        "every request over h2: {lines:?}"
    );
    let (me, me_failed) = endpoint(&report, "me");
    let (hello, _) = endpoint(&report, "hello");
    let (login, _) = endpoint(&report, "/login");
    assert_eq!(me_failed, 0);
    assert!(me > 0 && hello > 0 && login == 4, "{report}");
    // Each `me` is two requests on the wire: /old and its redirect to /me.
    assert_eq!(lines.len() as u64, login + 2 * me + hello);
    assert_eq!(summary_count(&stdout), login + me + hello);
    let count = |uri: &str, status: &str| {
        lines
            .iter()
            .filter(|l| l[4] == uri && l[3] == status)
            .count() as u64
    };
    assert_eq!(count("/me", "200"), me, "the cookie came along every time");
    assert_eq!(
        count("/hello/alice", "200"),
        hello,
        "extracted, with the session header"
    );
    assert!(
        lines.iter().filter(|l| l[4] == "/me").all(|l| l[5] != "-"),
        "/me went gzipped: {lines:?}"
    );
    // One connection per user, kept alive.
    let conns: std::collections::BTreeSet<&str> = lines.iter().map(|l| l[1].as_str()).collect();
    assert_eq!(conns.len(), 4, "{lines:?}");
}

#[test]
fn auto_speaks_http1_over_tls_where_the_server_offers_no_h2() {
    let s = setup();
    let (ok, stdout, _) = s.run(&format!("https://localhost:{}", s.nginx.tls1), &[]);
    assert!(ok, "{stdout}");
    let lines = s.nginx.requests();
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l[0] == "HTTP/1.1"),
        "{lines:?}"
    );
}

#[test]
fn http2_where_the_server_does_not_speak_it_fails_each_request_clearly() {
    let s = setup();
    let (_, stdout, report) = s.run(&format!("http://127.0.0.1:{}", s.nginx.plain), &["--http2"]);
    let (login, failed) = endpoint(&report, "/login");
    assert!(login > 0 && failed == login, "{report}");
    assert!(
        stdout.contains(
            "http/2 error: the server answered in http/1.1: it does not speak http/2 in cleartext"
        ),
        "{stdout}"
    );
    let (_, stdout, report) = s.run(
        &format!("https://localhost:{}", s.nginx.tls1),
        &["--http-version", "2"],
    );
    let (login, failed) = endpoint(&report, "/login");
    assert!(login > 0 && failed == login, "{report}");
    assert!(
        stdout.contains(
            "http/2 error: the server did not agree to http/2 in the tls handshake (alpn)"
        ),
        "{stdout}"
    );
}

#[test]
fn a_scenario_pins_its_version_per_step() {
    let s = setup();
    let text = SESSION.replace(
        "      - get: /hello/{{ who }}\n",
        "      - get: /hello/{{ who }}\n        http_version: \"1.1\"\n",
    );
    std::fs::write(s.dir.path().join("s.yaml"), text).unwrap();
    let (ok, stdout, _) = s.run(&format!("https://localhost:{}", s.nginx.h2), &[]);
    assert!(ok, "{stdout}");
    for l in s.nginx.requests() {
        let want = if l[4].starts_with("/hello/") {
            "HTTP/1.1"
        } else {
            "HTTP/2.0"
        };
        assert_eq!(l[0], want, "{l:?}");
    }
    let bad = SESSION.replace("    wait:", "    http_version: \"3\"\n    wait:");
    std::fs::write(s.dir.path().join("bad.yaml"), bad).unwrap();
    stampede()
        .args(["check", "-f"])
        .arg(s.dir.path().join("bad.yaml"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "bad.yaml:5:19: unknown http version `3` (expected auto, \"1.1\" or \"2\")",
        ));
}

#[test]
fn a_script_takes_its_class_version_or_names_its_own() {
    let s = setup();
    std::fs::write(
        s.dir.path().join("s.luau"),
        "function visit(user)\n  http.get('/login')\n  http.get('/hello/x', { http_version = '1.1' })\nend\ntasks = { visit = 1 }\n",
    )
    .unwrap();
    let yaml = "users:\n  - name: S\n    http_version: \"2\"\n    wait: {constant: 20ms}\n    script: s.luau\n";
    std::fs::write(s.dir.path().join("s.yaml"), yaml).unwrap();
    let (ok, stdout, _) = s.run(&format!("https://localhost:{}", s.nginx.h2), &[]);
    assert!(ok, "{stdout}");
    let lines = s.nginx.requests();
    assert!(lines.len() > 10, "{lines:?}");
    for l in &lines {
        let want = if l[4] == "/login" {
            "HTTP/2.0"
        } else {
            "HTTP/1.1"
        };
        assert_eq!(l[0], want, "{l:?}");
    }
    std::fs::write(
        s.dir.path().join("s.luau"),
        "function visit(user)\n  http.get('/login', { http_version = '3' })\nend\ntasks = { visit = 1 }\n",
    )
    .unwrap();
    let (_, stdout, _) = s.run(&format!("https://localhost:{}", s.nginx.h2), &[]);
    assert!(stdout.contains("unknown http version `3`"), "{stdout}");
}

#[test]
fn users_share_few_connections_when_asked() {
    let s = setup();
    let (ok, stdout, _) = s.run(
        &format!("https://localhost:{}", s.nginx.h2),
        &["-u", "10", "--http2-connections", "2"],
    );
    assert!(ok, "{stdout}");
    let lines = s.nginx.requests();
    let conns: std::collections::BTreeSet<&str> = lines.iter().map(|l| l[1].as_str()).collect();
    assert_eq!(conns.len(), 2, "10 users on 2 connections: {lines:?}");
    assert!(lines.iter().all(|l| l[0] == "HTTP/2.0"));
}

#[test]
fn users_resume_their_tls_sessions_unless_told_not_to() {
    let s = setup();
    // `Connection: close` after every request: each request a new handshake.
    let text = SESSION.replace(
        "headers: {x-token: secret}",
        "headers: {x-token: secret, connection: close}",
    );
    std::fs::write(s.dir.path().join("s.yaml"), text).unwrap();
    let host = format!("https://localhost:{}", s.nginx.tls1);
    let (ok, stdout, _) = s.run(&host, &[]);
    assert!(ok, "{stdout}");
    let lines = s.nginx.requests();
    let resumed = lines.iter().filter(|l| l[2] == "r").count();
    // Each user's first handshake is a full one; its later ones resume.
    assert!(
        lines.len() > 20 && resumed >= lines.len() - 4,
        "{resumed} of {}",
        lines.len()
    );
    let before = lines.len();
    let (ok, stdout, _) = s.run(&host, &["--no-tls-resumption"]);
    assert!(ok, "{stdout}");
    let after = &s.nginx.requests()[before..];
    assert!(
        after.len() > 20 && after.iter().all(|l| l[2] == "."),
        "{after:?}"
    );
}

#[test]
fn the_shop_scenarios_run_over_h2c_with_counts_equal_to_the_shop() {
    let shop = ShopProcess::start(&[]);
    let out = stampede()
        .args(["run", "-f", &scenario("order"), "--host", &shop.url])
        .args([
            "-u",
            "5",
            "-r",
            "50",
            "-t",
            "3s",
            "--headless",
            "--only-summary",
            "--http2",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    let count = summary_count(&stdout);
    assert!(count > 0);
    assert_eq!(count, shop.served(), "{stdout}");
}

#[test]
fn bad_http_flags_are_usage_errors() {
    for (flags, message) in [
        (&["--http-version", "3"][..], "unknown http version `3`"),
        (&["--http2-connections", "0"][..], "--http2-connections"),
        (
            &["--max-body-size", "0"][..],
            "`0`: the size must be above zero",
        ),
        (
            &["--max-body-size", "10XB"][..],
            "`10XB`: unknown unit `xb`",
        ),
        (
            &["--http2", "--http-version", "1.1"][..],
            "cannot be used with",
        ),
    ] {
        stampede()
            .args([
                "run",
                "-f",
                &scenario("browse"),
                "--host",
                "http://127.0.0.1:9",
            ])
            .args(["--headless", "-t", "1s"])
            .args(flags)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(message));
    }
}
