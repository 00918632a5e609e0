//! Requests through a real proxy (tinyproxy from apt) on loopback: plain
//! HTTP in absolute form (`--proxy`, `HTTP_PROXY`), HTTPS and HTTP/2 in
//! cleartext through CONNECT tunnels (`HTTPS_PROXY`), `NO_PROXY` honoured,
//! basic credentials right and wrong, and a worker's own proxy winning over
//! the one its master ships. The target is nginx, whose access log shows
//! the proxy's `Via` header on what came through it.

mod common;

use std::process::Stdio;

use common::servers::{Site, Tinyproxy};
use common::{Killed, ShopProcess, master_addr, stampede, summary_count};

const LOCATIONS: &str = "location / { return 200 \"ok\\n\"; }";

const SCENARIO: &str =
    "users:\n  - name: U\n    wait: {constant: 20ms}\n    sequence: [{get: /a}]\n";

fn setup() -> Site {
    Site::start(LOCATIONS, SCENARIO)
}

impl Site {
    /// `stampede run` of the scenario against `host`, 2 users for 1 s.
    fn run(&self, host: &str) -> assert_cmd::Command {
        let mut c = stampede();
        c.args(["run", "-f"])
            .arg(self.scenario())
            .args([
                "--headless",
                "-u",
                "2",
                "-r",
                "100",
                "-t",
                "1s",
                "--only-summary",
            ])
            .args(["--host", host, "--ca-cert"])
            .arg(&self.certs.cert);
        c
    }

    /// The `Via` of each request nginx logged ("-" for none).
    fn vias(&self) -> Vec<String> {
        self.nginx
            .requests()
            .iter()
            .map(|l| l[6..].join(" "))
            .collect()
    }
}

fn output(c: &mut assert_cmd::Command) -> (bool, String) {
    let out = c.output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn plain_http_goes_through_the_proxy_in_absolute_form() {
    let s = setup();
    let proxy = Tinyproxy::start(s.dir.path(), None);
    let host = format!("http://127.0.0.1:{}", s.nginx.plain);
    let (ok, stdout) = output(s.run(&host).args(["--proxy", &proxy.url()]));
    assert!(ok, "{stdout}");
    let vias = s.vias();
    assert_eq!(vias.len() as u64, summary_count(&stdout));
    assert!(vias.iter().all(|v| v.contains("tinyproxy")), "{vias:?}");
    // The same from the environment.
    let (ok, stdout) = output(s.run(&host).env("HTTP_PROXY", proxy.url()));
    assert!(ok, "{stdout}");
    assert!(s.vias().iter().all(|v| v.contains("tinyproxy")));
    proxy.assert_logged(&format!("GET http://127.0.0.1:{}/a", s.nginx.plain));
}

#[test]
fn https_and_h2c_go_through_connect_tunnels() {
    let s = setup();
    let proxy = Tinyproxy::start(s.dir.path(), None);
    let host = format!("https://localhost:{}", s.nginx.h2);
    let (ok, stdout) = output(s.run(&host).env("https_proxy", proxy.url()));
    assert!(ok, "{stdout}");
    let lines = s.nginx.requests();
    assert_eq!(lines.len() as u64, summary_count(&stdout));
    assert!(
        lines.iter().all(|l| l[0] == "HTTP/2.0"),
        "h2 inside the tunnel: {lines:?}"
    );
    proxy.assert_logged(&format!("CONNECT localhost:{}", s.nginx.h2));

    let shop = ShopProcess::start(&[]);
    let (ok, stdout) = output(s.run(&shop.url).args(["--http2", "--proxy", &proxy.url()]));
    assert!(ok, "{stdout}");
    assert_eq!(summary_count(&stdout), shop.served());
    let port = shop.url.rsplit(':').next().unwrap();
    proxy.assert_logged(&format!("CONNECT 127.0.0.1:{port}"));
}

#[test]
fn no_proxy_hosts_are_reached_directly() {
    let s = setup();
    let proxy = Tinyproxy::start(s.dir.path(), None);
    let host = format!("http://127.0.0.1:{}", s.nginx.plain);
    let (ok, stdout) = output(
        s.run(&host)
            .env("HTTP_PROXY", proxy.url())
            .env("NO_PROXY", "localhost,127.0.0.0/8"),
    );
    assert!(ok, "{stdout}");
    let vias = s.vias();
    assert!(
        !vias.is_empty() && vias.iter().all(|v| v == "-"),
        "{vias:?}"
    );
    let (ok, _) = output(
        s.run(&host)
            .args(["--proxy", &proxy.url(), "--no-proxy", "*"]),
    );
    assert!(ok);
    assert!(s.vias().iter().all(|v| v == "-"));
    assert!(!proxy.log().contains("GET http://"), "{}", proxy.log());
}

#[test]
fn proxy_credentials_right_and_wrong() {
    let s = setup();
    let proxy = Tinyproxy::start(s.dir.path(), Some(("alice", "s3cret")));
    let with = |creds: &str| proxy.url().replace("http://", &format!("http://{creds}@"));
    let https = format!("https://localhost:{}", s.nginx.tls1);
    let (ok, stdout) = output(s.run(&https).args(["--proxy", &with("alice:s3cret")]));
    assert!(ok, "{stdout}");
    let (_, stdout) = output(s.run(&https).args(["--proxy", &with("alice:wrong")]));
    assert!(
        // tinyproxy answers 401 where the standard says 407.
        stdout.contains("proxy error: the proxy refused the credentials (401 unauthorized)"),
        "{stdout}"
    );
    let (_, stdout) = output(s.run(&https).args(["--proxy", &proxy.url()]));
    assert!(
        stdout.contains(
            "proxy error: the proxy wants credentials (407 proxy authentication required)"
        ),
        "{stdout}"
    );
    // Plain http: the proxy's answer is the response.
    let plain = format!("http://127.0.0.1:{}", s.nginx.plain);
    let (_, stdout) = output(s.run(&plain).args(["--proxy", &with("alice:wrong")]));
    assert!(stdout.contains("unexpected status 401"), "{stdout}");
    let (ok, stdout) = output(s.run(&plain).args(["--proxy", &with("alice:s3cret")]));
    assert!(ok, "{stdout}");
}

#[test]
fn bad_proxy_settings_are_usage_errors() {
    let s = setup();
    let host = format!("http://127.0.0.1:{}", s.nginx.plain);
    s.run(&host)
        .args(["--proxy", "socks5://127.0.0.1:1080"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "only http:// proxies are supported",
        ));
    s.run(&host)
        .env("HTTPS_PROXY", "ftp://x")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("HTTPS_PROXY: proxy `ftp://x`"));
    s.run(&host)
        .args(["--no-proxy", "10.0.0.0/99"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "`10.0.0.0/99` is not an address block",
        ));
}

#[test]
fn a_workers_own_proxy_wins_over_the_masters() {
    let s = setup();
    let proxy = Tinyproxy::start(s.dir.path(), None);
    let host = format!("http://127.0.0.1:{}", s.nginx.plain);
    // The master ships a proxy nobody listens on; the worker has its own.
    let mut master = common::logged_stampede()
        .args(["master", "-f"])
        .arg(s.dir.path().join("s.yaml"))
        .args([
            "--host",
            &host,
            "--headless",
            "-u",
            "2",
            "-r",
            "100",
            "-t",
            "1s",
        ])
        .args([
            "--expect-workers",
            "1",
            "--bind",
            "127.0.0.1:0",
            "--only-summary",
        ])
        .args(["--proxy", "http://127.0.0.1:9"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = master_addr(&mut master);
    let _worker = Killed(
        common::logged_stampede()
            .args(["worker", "--master", &addr, "--id", "own-proxy"])
            .env("HTTP_PROXY", proxy.url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = master.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    let vias = s.vias();
    assert_eq!(vias.len() as u64, summary_count(&stdout));
    assert!(vias.iter().all(|v| v.contains("tinyproxy")), "{vias:?}");
}
