//! Hostile targets on 127.0.0.1:0: a server that announces a 1 GB body,
//! streams an endless chunked or close-delimited body, sends an endless
//! header, answers nothing at all, or sends a gzip bomb; over HTTP/1.1 and
//! (an endless body) over HTTP/2. Each fails its request with one clear
//! message, without reading past the limit, and the session is usable after.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use stampede_common::run::HttpVersion;
use stampede_worker::http::{ClientOptions, HttpClient, HttpError, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// A client whose bodies stop at 1 MiB.
fn client(version: HttpVersion) -> HttpClient {
    let mut opts = ClientOptions::default();
    opts.http.max_body = 1 << 20;
    opts.http.version = version;
    HttpClient::new(opts).unwrap()
}

/// A raw server: after each request head, `answer` writes what it likes
/// (and may never stop); returns the base URL.
async fn hostile<F, Fut>(answer: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut chunk = [0u8; 1024];
                    match tcp.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                answer(tcp).await;
            });
        }
    });
    base
}

/// Writes `head` then `piece` until the client goes away.
async fn endless(mut tcp: TcpStream, head: &[u8], piece: &[u8]) {
    if tcp.write_all(head).await.is_err() {
        return;
    }
    while tcp.write_all(piece).await.is_ok() {}
}

async fn get(
    client: &HttpClient,
    base: &str,
) -> Result<stampede_worker::http::Response, HttpError> {
    let mut req = Request::get(Url::parse(&format!("{base}/")).unwrap());
    req.timeout = Some(Duration::from_secs(20));
    client.session().send(req).await
}

const TOO_LARGE: &str = "response body over 1 MiB (--max-body-size)";

#[tokio::test]
async fn an_announced_gigabyte_fails_before_it_is_read() {
    let base = hostile(|mut tcp| async move {
        let _ = tcp
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n")
            .await;
        // Never sends the body: the client must not wait for it.
        std::future::pending::<()>().await;
    })
    .await;
    let err = get(&client(HttpVersion::Http1), &base).await.unwrap_err();
    assert_eq!(err.to_string(), TOO_LARGE);
}

#[tokio::test]
async fn endless_bodies_stop_at_the_limit() {
    let chunked = hostile(|tcp| async move {
        let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        let chunk = [b"4000\r\n".as_slice(), &[b'x'; 0x4000], b"\r\n"].concat();
        endless(tcp, head, &chunk).await;
    })
    .await;
    let c = client(HttpVersion::Http1);
    assert_eq!(get(&c, &chunked).await.unwrap_err().to_string(), TOO_LARGE);
    let until_close = hostile(|tcp| async move {
        endless(tcp, b"HTTP/1.1 200 OK\r\n\r\n", &[b'y'; 64 * 1024]).await;
    })
    .await;
    assert_eq!(
        get(&c, &until_close).await.unwrap_err().to_string(),
        TOO_LARGE
    );
}

#[tokio::test]
async fn an_endless_header_and_no_answer_at_all() {
    let header = hostile(|tcp| async move {
        endless(tcp, b"HTTP/1.1 200 OK\r\nx-endless: ", &[b'z'; 4096]).await;
    })
    .await;
    let c = client(HttpVersion::Http1);
    let err = get(&c, &header).await.unwrap_err();
    assert!(matches!(err, HttpError::ResponseHeadTooLarge(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "response head too large (over 65536 bytes)"
    );
    let silent = hostile(|tcp| async move {
        let _held_open = tcp;
        std::future::pending::<()>().await
    })
    .await;
    let mut req = Request::get(Url::parse(&format!("{silent}/")).unwrap());
    req.timeout = Some(Duration::from_millis(300));
    let err = c.session().send(req).await.unwrap_err();
    assert_eq!(err.to_string(), "timeout after 300ms");
}

#[tokio::test]
async fn a_gzip_bomb_is_stopped_at_the_limit_decoded() {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![0u8; 16 << 20]).unwrap();
    let bomb: &'static [u8] = Box::leak(z.finish().unwrap().into_boxed_slice());
    assert!(bomb.len() < 1 << 20, "small on the wire: {}", bomb.len());
    let base = hostile(move |mut tcp| async move {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
            bomb.len()
        );
        let _ = tcp.write_all(head.as_bytes()).await;
        let _ = tcp.write_all(bomb).await;
    })
    .await;
    let err = get(&client(HttpVersion::Http1), &base).await.unwrap_err();
    assert_eq!(err.to_string(), TOO_LARGE);
}

#[tokio::test]
async fn an_endless_http2_body_stops_at_the_limit() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(|| async {
        let pieces =
            std::iter::repeat_with(|| Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 64 << 10])));
        axum::body::Body::from_stream(tokio_stream::iter(pieces))
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let c = client(HttpVersion::Http2);
    let mut session = c.session();
    let mut req = Request::get(Url::parse(&format!("{base}/")).unwrap());
    req.timeout = Some(Duration::from_secs(20));
    let err = session.send(req).await.unwrap_err();
    assert_eq!(err.to_string(), TOO_LARGE);
}
