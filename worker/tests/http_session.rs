//! Tests of the per-user HTTP session against an in-process axum app on
//! 127.0.0.1:0: reuse, default headers, cookies, redirects, gzip, timeouts,
//! each over HTTP/1.1 and over HTTP/2 (prior knowledge: the app serves
//! both on one port, as hyper's server does).
//! (Connection-level behaviour against a scripted raw server:
//! `http_connections.rs`.)

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};
use stampede_common::run::HttpVersion;
use stampede_worker::http::{ClientOptions, HttpClient, HttpError, Request};
use tokio::net::TcpListener;
use url::Url;

fn client_of(version: HttpVersion) -> HttpClient {
    let mut opts = ClientOptions::default();
    opts.http.version = version;
    HttpClient::new(opts).unwrap()
}

fn client() -> HttpClient {
    client_of(HttpVersion::Auto)
}

fn url(base: &str, path: &str) -> Url {
    Url::parse(&format!("{base}{path}")).unwrap()
}

const GZIP_TEXT: &str = "stampede gzip body, stampede gzip body, stampede gzip body";

/// Echoes the request; the response's `x-version` says which HTTP version
/// it came in.
async fn echo(
    version: Version,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> ([(&'static str, String); 1], String) {
    let h = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned()
    };
    let text = format!(
        "method={method} body={} cl={} ua={} ae={} cookie={} auth={}",
        String::from_utf8_lossy(&body),
        h(header::CONTENT_LENGTH),
        h(header::USER_AGENT),
        h(header::ACCEPT_ENCODING),
        h(header::COOKIE),
        h(header::AUTHORIZATION),
    );
    ([("x-version", format!("{version:?}"))], text)
}

/// The version `v` gets in cleartext: HTTP/2 only when asked for.
fn expected_version(v: HttpVersion) -> &'static str {
    match v {
        HttpVersion::Http2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

async fn redirect(Path(code): Path<u16>) -> (StatusCode, [(header::HeaderName, &'static str); 2]) {
    let status = StatusCode::from_u16(code).unwrap();
    (
        status,
        [
            (header::LOCATION, "/echo"),
            (header::SET_COOKIE, "hop=1; Path=/"),
        ],
    )
}

/// Redirects `127.0.0.1:PORT` to `localhost:PORT`: same server, other host.
async fn cross_host(
    uri: http::Uri,
    headers: HeaderMap,
) -> (StatusCode, [(header::HeaderName, String); 1]) {
    // HTTP/2 carries the host as the `:authority` of the request's URI.
    let host = match headers.get(header::HOST) {
        Some(h) => h.to_str().unwrap().to_owned(),
        None => uri.authority().unwrap().to_string(),
    };
    let port = host.rsplit(':').next().unwrap();
    let to = format!("http://localhost:{port}/echo");
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)])
}

async fn gzip(headers: HeaderMap) -> (HeaderMap, Vec<u8>) {
    let mut out = HeaderMap::new();
    let wants = headers
        .get(header::ACCEPT_ENCODING)
        .is_some_and(|v| v.to_str().unwrap().contains("gzip"));
    if !wants {
        return (out, GZIP_TEXT.as_bytes().to_vec());
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(GZIP_TEXT.as_bytes()).unwrap();
    out.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    (out, enc.finish().unwrap())
}

/// The axum app; returns its base URL and the count of accepted connections.
async fn spawn_app() -> (String, Arc<AtomicUsize>) {
    let app = Router::new()
        .route("/echo", any(echo))
        .route("/r/{code}", any(redirect))
        .route(
            "/loop",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
        )
        .route(
            "/set",
            get(|| async { ([(header::SET_COOKIE, "sid=abc; Path=/")], "set") }),
        )
        .route(
            "/login",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [
                        (header::SET_COOKIE, "sid=xyz; Path=/"),
                        (header::LOCATION, "/echo"),
                    ],
                )
            }),
        )
        .route("/cross", any(cross_host))
        .route("/gzip", get(gzip))
        .route("/hang", get(std::future::pending::<String>));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let conns = Arc::new(AtomicUsize::new(0));
    let counter = conns.clone();
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, conns)
}

async fn one_connection_is_reused_with_default_headers(v: HttpVersion) {
    let (base, conns) = spawn_app().await;
    let mut session = client_of(v).session();
    for _ in 0..5 {
        let resp = session
            .send(Request::get(url(&base, "/echo")))
            .await
            .unwrap();
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.headers["x-version"], expected_version(v));
        let text = std::str::from_utf8(&resp.body).unwrap();
        assert!(
            text.starts_with("method=GET body= cl=- ua=stampede/"),
            "{text}"
        );
        assert!(text.contains("ae=gzip"), "{text}");
        assert_eq!(resp.content_length, resp.body.len() as u64);
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);

    let mut req = Request::new(Method::POST, url(&base, "/echo"));
    req.headers
        .insert(header::USER_AGENT, HeaderValue::from_static("mine"));
    req.body = Bytes::from_static(b"hello");
    let text = session.send(req).await.unwrap().body;
    assert!(
        text.starts_with(b"method=POST body=hello cl=5 ua=mine "),
        "{text:?}"
    );
}

async fn cookies_persist_per_session_only(v: HttpVersion) {
    let (base, _) = spawn_app().await;
    let c = client_of(v);
    let (mut alice, mut bob) = (c.session(), c.session());
    alice.send(Request::get(url(&base, "/set"))).await.unwrap();
    let text = alice
        .send(Request::get(url(&base, "/echo")))
        .await
        .unwrap()
        .body;
    assert!(text.ends_with(b"cookie=sid=abc auth=-"), "{text:?}");
    assert_eq!(
        alice.cookie_header_for(&url(&base, "/")).as_deref(),
        Some("sid=abc")
    );
    let text = bob
        .send(Request::get(url(&base, "/echo")))
        .await
        .unwrap()
        .body;
    assert!(text.ends_with(b"cookie=- auth=-"), "{text:?}");
    assert_eq!(bob.cookie_header_for(&url(&base, "/")), None);

    // A cookie set by an intermediate redirect response is stored and sent.
    let resp = bob.send(Request::get(url(&base, "/login"))).await.unwrap();
    assert_eq!(resp.redirects, 1);
    assert!(
        resp.body.ends_with(b"cookie=sid=xyz auth=-"),
        "{:?}",
        resp.body
    );
}

async fn redirects_rewrite_or_keep_the_method(v: HttpVersion) {
    let (base, _) = spawn_app().await;
    let mut session = client_of(v).session();
    for (code, expected) in [
        (301, "method=GET body= cl=-"),
        (302, "method=GET body= cl=-"),
        (303, "method=GET body= cl=-"),
        (307, "method=POST body=payload cl=7"),
        (308, "method=POST body=payload cl=7"),
    ] {
        let mut req = Request::new(Method::POST, url(&base, &format!("/r/{code}")));
        req.body = Bytes::from_static(b"payload");
        req.headers
            .insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        let resp = session.send(req).await.unwrap();
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.redirects, 1);
        assert_eq!(resp.url.path(), "/echo");
        let text = std::str::from_utf8(&resp.body).unwrap();
        assert!(text.starts_with(expected), "{code}: {text}");
        // Same host: Authorization is kept; the redirect's cookie is sent.
        assert!(
            text.ends_with("cookie=hop=1 auth=Bearer t"),
            "{code}: {text}"
        );
    }
}

async fn redirect_limits_and_opt_out(v: HttpVersion) {
    let (base, _) = spawn_app().await;
    let mut session = client_of(v).session();
    let err = session
        .send(Request::get(url(&base, "/loop")))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::TooManyRedirects(10)), "{err:?}");
    assert_eq!(err.to_string(), "too many redirects (10)");

    let mut req = Request::get(url(&base, "/r/302"));
    req.follow_redirects = false;
    let resp = session.send(req).await.unwrap();
    assert_eq!(resp.status, StatusCode::FOUND);
    assert_eq!(resp.headers[header::LOCATION], "/echo");
    assert_eq!(resp.redirects, 0);
}

async fn redirect_to_another_host_drops_authorization(v: HttpVersion) {
    let (base, conns) = spawn_app().await;
    let mut session = client_of(v).session();
    session
        .send(Request::get(url(&base, "/echo")))
        .await
        .unwrap();
    let mut req = Request::new(Method::PUT, url(&base, "/cross"));
    req.headers
        .insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
    req.body = Bytes::from_static(b"x");
    let resp = session.send(req).await.unwrap();
    assert_eq!(resp.url.host_str(), Some("localhost"));
    assert!(
        resp.body.starts_with(b"method=PUT body=x "),
        "{:?}",
        resp.body
    );
    assert!(resp.body.ends_with(b"auth=-"), "{:?}", resp.body);
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    // Both origins stay parked: going back to the first opens nothing new.
    session
        .send(Request::get(url(&base, "/echo")))
        .await
        .unwrap();
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

async fn gzip_bodies_are_decoded(v: HttpVersion) {
    let (base, _) = spawn_app().await;
    let resp = client_of(v)
        .session()
        .send(Request::get(url(&base, "/gzip")))
        .await
        .unwrap();
    assert_eq!(resp.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(resp.body, GZIP_TEXT.as_bytes());
    assert_eq!(resp.content_length, GZIP_TEXT.len() as u64);
}

async fn request_timeout_and_unsupported_scheme(v: HttpVersion) {
    let (base, _) = spawn_app().await;
    let mut session = client_of(v).session();
    let mut req = Request::get(url(&base, "/hang"));
    req.timeout = Some(Duration::from_millis(200));
    let err = session.send(req).await.unwrap_err();
    assert!(matches!(err, HttpError::Timeout(_)), "{err:?}");
    assert_eq!(err.to_string(), "timeout after 200ms");
    // The session is still usable afterwards.
    assert!(
        session
            .send(Request::get(url(&base, "/echo")))
            .await
            .is_ok()
    );

    let err = session
        .send(Request::get(Url::parse("ftp://127.0.0.1/x").unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "unsupported url scheme `ftp`");
}

#[test]
fn send_future_is_send_and_bad_ca_is_rejected() {
    fn assert_send<T: Send>(_: &T) {}
    let mut session = client().session();
    let fut = session.send(Request::get(Url::parse("http://127.0.0.1:9/").unwrap()));
    assert_send(&fut);
    drop(fut);

    let opts = ClientOptions {
        ca_cert_pem: Some(b"not a pem".to_vec()),
        ..ClientOptions::default()
    };
    let err = HttpClient::new(opts).unwrap_err();
    assert!(matches!(err, HttpError::Config(_)), "{err:?}");
}

/// Each session test over HTTP/1.1 (`h1::`) and HTTP/2 (`h2::`).
macro_rules! over_both {
    ($($name:ident),* $(,)?) => {
        mod h1 {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::HttpVersion::Http1).await
            })*
        }
        mod h2 {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::HttpVersion::Http2).await
            })*
        }
    };
}

over_both!(
    one_connection_is_reused_with_default_headers,
    cookies_persist_per_session_only,
    redirects_rewrite_or_keep_the_method,
    redirect_limits_and_opt_out,
    redirect_to_another_host_drops_authorization,
    gzip_bodies_are_decoded,
    request_timeout_and_unsupported_scheme
);
