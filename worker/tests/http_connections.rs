//! Connection-level behaviour of the per-user HTTP session against a
//! scripted raw HTTP/1 server (plain or TLS) on 127.0.0.1:0: refused and
//! reset connections, idle and stale keep-alive connections, the server's
//! `Connection: close`, and HTTPS with a self-signed certificate.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use stampede_worker::http::{ClientOptions, HttpClient, HttpError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

fn client() -> HttpClient {
    HttpClient::new(ClientOptions::default()).unwrap()
}

fn url(base: &str, path: &str) -> Url {
    Url::parse(&format!("{base}{path}")).unwrap()
}

/// What the raw server does with request `req` on connection `conn`.
#[derive(Clone, Copy)]
enum Act {
    /// 200 with keep-alive.
    Ok,
    /// 200 with `Connection: close`, socket left open.
    OkSayClose,
    /// 200, then close the socket.
    OkThenClose,
    /// Close without answering.
    Close,
}

type Script = Arc<dyn Fn(usize, usize) -> Act + Send + Sync>;

async fn serve_raw<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, conn: usize, script: Script) {
    let mut buf = Vec::new();
    for req in 0.. {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut chunk = [0u8; 1024];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        buf.drain(..end);
        let act = script(conn, req);
        let close_hdr = if matches!(act, Act::OkSayClose) {
            "connection: close\r\n"
        } else {
            ""
        };
        if !matches!(act, Act::Close) {
            let resp = format!("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n{close_hdr}\r\nok");
            if s.write_all(resp.as_bytes()).await.is_err() {
                return;
            }
        }
        if matches!(act, Act::Close | Act::OkThenClose) {
            let _ = s.shutdown().await;
            return;
        }
    }
}

/// A scripted raw server, optionally behind TLS; returns its port and the
/// count of accepted connections.
async fn spawn_raw(
    script: Script,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let conns = Arc::new(AtomicUsize::new(0));
    let counter = conns.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let (script, tls) = (script.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => serve_raw(tcp, n, script).await,
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(tcp).await {
                            serve_raw(s, n, script).await;
                        }
                    }
                }
            });
        }
    });
    (port, conns)
}

#[tokio::test]
async fn connection_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = client()
        .session()
        .send(Request::get(url(&format!("http://127.0.0.1:{port}"), "/")))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::ConnectionRefused), "{err:?}");
    assert_eq!(err.to_string(), "connection refused");
}

#[tokio::test]
async fn connection_reset() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = tcp.readable().await;
            let _ = tcp.try_read(&mut buf);
            tcp.set_zero_linger().unwrap();
            drop(tcp);
        }
    });
    let err = client()
        .session()
        .send(Request::get(url(&base, "/")))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::ConnectionReset), "{err:?}");
    assert_eq!(err.to_string(), "connection reset by peer");
}

async fn two_gets(port: u16) -> Result<(), HttpError> {
    let mut session = client().session();
    for _ in 0..2 {
        let resp = session
            .send(Request::get(url(&format!("http://127.0.0.1:{port}"), "/")))
            .await?;
        assert_eq!(resp.body, "ok");
    }
    Ok(())
}

#[tokio::test]
async fn server_closing_idle_connection_is_survived() {
    let (port, conns) = spawn_raw(Arc::new(|_, _| Act::OkThenClose), None).await;
    two_gets(port).await.unwrap();
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn stale_connection_is_retried_once_on_a_new_one() {
    // The first connection dies under the second request, after the session
    // found it alive: the request is retried on a new connection.
    let script: Script = Arc::new(|conn, req| {
        if conn == 0 && req == 1 {
            Act::Close
        } else {
            Act::Ok
        }
    });
    let (port, conns) = spawn_raw(script, None).await;
    two_gets(port).await.unwrap();
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn failure_on_a_new_connection_is_not_retried() {
    let (port, conns) = spawn_raw(Arc::new(|_, _| Act::Close), None).await;
    let err = two_gets(port).await.unwrap_err();
    assert!(matches!(err, HttpError::ConnectionClosed), "{err:?}");
    assert_eq!(
        err.to_string(),
        "connection closed before message completed"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn connection_close_from_server_is_honoured() {
    let (port, conns) = spawn_raw(Arc::new(|_, _| Act::OkSayClose), None).await;
    two_gets(port).await.unwrap();
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn https_with_self_signed_certificate() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let (port, conns) = spawn_raw(Arc::new(|_, _| Act::Ok), Some(acceptor)).await;
    let target = url(&format!("https://localhost:{port}"), "/");

    let err = client()
        .session()
        .send(Request::get(target.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Tls(_)), "{err:?}");
    assert!(err.to_string().starts_with("tls error: "), "{err}");

    for opts in [
        ClientOptions {
            ca_cert_pem: Some(cert.pem().into_bytes()),
            ..ClientOptions::default()
        },
        ClientOptions {
            insecure: true,
            ..ClientOptions::default()
        },
    ] {
        let before = conns.load(Ordering::SeqCst);
        let mut session = HttpClient::new(opts).unwrap().session();
        for _ in 0..3 {
            let resp = session.send(Request::get(target.clone())).await.unwrap();
            assert_eq!(resp.body, "ok");
        }
        assert_eq!(
            conns.load(Ordering::SeqCst),
            before + 1,
            "keep-alive over tls"
        );
    }
}
