//! Control over addresses: `--source-ips` spreads users' connections over
//! local addresses (seen on the server side), `--resolve` sends a name to a
//! given address with the name kept in the Host header; bad values are usage
//! errors. Against a recording server on 127.0.0.1 port 0.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use common::stampede;

/// (peer address, Host header) of every request.
type Seen = Arc<Mutex<Vec<(std::net::IpAddr, String)>>>;

/// A server on 127.0.0.1 port 0 on its own thread; its port and log.
fn recorder() -> (u16, Seen) {
    let seen = Seen::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            let app = axum::Router::new().fallback(
                move |ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap| {
                    let host = headers
                        .get("host")
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    log.lock().unwrap().push((peer.ip(), host));
                    async { "ok" }
                },
            );
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
    });
    (rx.recv().unwrap(), seen)
}

fn scenario(dir: &std::path::Path) -> String {
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        "users:\n  - name: U\n    wait: {constant: 50ms}\n    sequence: [{get: /}]\n",
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn source_ips_spread_users_over_local_addresses() {
    let (port, seen) = recorder();
    let dir = tempfile::tempdir().unwrap();
    stampede()
        .args(["run", "-f", &scenario(dir.path()), "--headless"])
        .args(["-u", "8", "-r", "100", "-t", "2s", "--only-summary"])
        .args(["--host", &format!("http://127.0.0.1:{port}")])
        .args(["--source-ips", "127.0.0.1-127.0.0.4,127.0.0.5-127.0.0.8"])
        .assert()
        .success();
    let peers: BTreeSet<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(ip, _)| ip.to_string())
        .collect();
    let want: BTreeSet<String> = (1..=8).map(|i| format!("127.0.0.{i}")).collect();
    assert_eq!(peers, want, "one local address per user");
}

#[test]
fn resolve_sends_a_name_to_an_address_and_keeps_the_name() {
    let (port, seen) = recorder();
    let dir = tempfile::tempdir().unwrap();
    stampede()
        .args(["run", "-f", &scenario(dir.path()), "--headless"])
        .args(["-u", "1", "-r", "10", "-t", "1s", "--only-summary"])
        .args(["--host", &format!("http://backend.test:{port}")])
        .args(["--resolve", &format!("backend.test:{port}:127.0.0.1")])
        .assert()
        .success();
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty(), "the name reached the address");
    assert!(
        seen.iter()
            .all(|(_, h)| *h == format!("backend.test:{port}")),
        "{seen:?}"
    );
}

#[test]
fn bad_addresses_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path());
    for (flag, value, message) in [
        (
            "--resolve",
            "backend.test:80",
            "`backend.test:80`: not three parts (expected HOST:PORT:ADDR, as curl's --resolve)",
        ),
        (
            "--source-ips",
            "127.0.0.9-127.0.0.1",
            "`127.0.0.9-127.0.0.1`: the range ends before it starts",
        ),
    ] {
        let out = stampede()
            .args([
                "run",
                "-f",
                &file,
                "--headless",
                "--host",
                "http://127.0.0.1:9",
            ])
            .args([flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{err}");
    }
}
