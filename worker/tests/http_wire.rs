//! Tests of the session's own HTTP/1.1 exchange against raw TCP servers on
//! 127.0.0.1:0 that answer with scripted bytes: body framing (length, chunks,
//! close), bodies that must not be read (HEAD, 204, 304), interim responses,
//! responses split into single bytes, keep-alive and `Connection: close`, and
//! malformed or cut-short responses.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderValue, Method, StatusCode, header};
use stampede_worker::http::{ClientOptions, HttpClient, HttpError, Request, Response, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// What the server writes for one request.
struct Reply {
    bytes: Vec<u8>,
    /// Close the connection after writing.
    close: bool,
    /// Write one byte at a time.
    trickle: bool,
}

fn reply(text: &str) -> Reply {
    Reply {
        bytes: text.as_bytes().to_vec(),
        close: false,
        trickle: false,
    }
}

fn then_close(text: &str) -> Reply {
    Reply {
        close: true,
        ..reply(text)
    }
}

type Script = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

/// A raw server answering request `n` (counted over all connections) with
/// `script(n)`; it records each request head and counts accepted connections.
struct Server {
    base: String,
    accepts: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Server {
    async fn spawn(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        let script: Script = Arc::new(script);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let accepts = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (count, log) = (accepts.clone(), heads.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(tcp, script.clone(), log.clone()));
            }
        });
        Self {
            base,
            accepts,
            heads,
        }
    }

    fn url(&self) -> Url {
        Url::parse(&format!("{}/p", self.base)).unwrap()
    }

    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

async fn serve(mut tcp: TcpStream, script: Script, heads: Arc<Mutex<Vec<String>>>) {
    tcp.set_nodelay(true).unwrap();
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let n = {
            let mut heads = heads.lock().unwrap();
            heads.push(head);
            heads.len() - 1
        };
        let r = script(n);
        let written = if r.trickle {
            let mut ok = true;
            for b in &r.bytes {
                ok &= tcp.write_all(&[*b]).await.is_ok() && tcp.flush().await.is_ok();
            }
            ok
        } else {
            tcp.write_all(&r.bytes).await.is_ok()
        };
        if !written || r.close {
            let _ = tcp.shutdown().await;
            return;
        }
    }
}

fn session() -> Session {
    HttpClient::new(ClientOptions::default()).unwrap().session()
}

/// A request with a timeout, so that a broken exchange fails the test instead
/// of hanging it.
fn request(method: Method, server: &Server) -> Request {
    let mut req = Request::new(method, server.url());
    req.timeout = Some(Duration::from_secs(5));
    req
}

async fn get(s: &mut Session, server: &Server) -> Result<Response, HttpError> {
    s.send(request(Method::GET, server)).await
}

#[tokio::test]
async fn chunked_body_with_extensions_and_trailers_then_reuse() {
    let server = Server::spawn(|_| {
        reply(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
             5;name=value\r\nhello\r\n7 ; x\r\n, world\r\n0\r\nX-Trailer: t\r\nX-More: u\r\n\r\n",
        )
    })
    .await;
    let mut s = session();
    for _ in 0..3 {
        let resp = get(&mut s, &server).await.unwrap();
        assert_eq!(resp.body, "hello, world");
        assert_eq!(resp.content_length, 12);
    }
    assert_eq!(
        server.accepts(),
        1,
        "the trailers were consumed: the connection is reused"
    );
}

#[tokio::test]
async fn content_length_zero_and_keep_alive_reuse() {
    let server = Server::spawn(|_| reply("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")).await;
    let mut s = session();
    for _ in 0..10 {
        let resp = get(&mut s, &server).await.unwrap();
        assert_eq!((resp.status, resp.body.len()), (StatusCode::OK, 0));
    }
    assert_eq!(server.accepts(), 1);
    let heads = server.heads.lock().unwrap();
    assert_eq!(heads.len(), 10);
    assert!(heads[0].starts_with("GET /p HTTP/1.1\r\n"), "{}", heads[0]);
    assert!(heads[0].contains("\r\nhost: 127.0.0.1:"), "{}", heads[0]);
}

#[tokio::test]
async fn body_until_close_for_http10_and_http11_without_length() {
    let server = Server::spawn(|n| match n % 2 {
        0 => then_close("HTTP/1.0 200 OK\r\n\r\nold style body"),
        _ => then_close("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nnew style body"),
    })
    .await;
    let mut s = session();
    assert_eq!(get(&mut s, &server).await.unwrap().body, "old style body");
    assert_eq!(get(&mut s, &server).await.unwrap().body, "new style body");
    assert_eq!(
        server.accepts(),
        2,
        "a close-delimited body ends the connection"
    );
}

#[tokio::test]
async fn http10_keeps_the_connection_only_when_told() {
    let server = Server::spawn(|n| match n {
        0 | 1 => reply("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nka"),
        _ => reply("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nno"),
    })
    .await;
    let mut s = session();
    for expected in ["ka", "ka", "no", "no"] {
        assert_eq!(get(&mut s, &server).await.unwrap().body, expected);
    }
    // Requests 0-2 share the first connection; after the plain 1.0 answer
    // to request 2 it is dropped, so request 3 opens a second one.
    assert_eq!(server.accepts(), 2);
}

#[tokio::test]
async fn head_204_and_304_have_no_body_even_with_a_length() {
    let server = Server::spawn(|n| match n {
        0 => reply("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
        1 => reply("HTTP/1.1 204 No Content\r\n\r\n"),
        2 => reply("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
        _ => reply("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast"),
    })
    .await;
    let mut s = session();
    let head = s.send(request(Method::HEAD, &server)).await.unwrap();
    assert_eq!((head.status, head.body.len()), (StatusCode::OK, 0));
    assert_eq!(head.headers[header::CONTENT_LENGTH], "100");
    let resp = get(&mut s, &server).await.unwrap();
    assert_eq!((resp.status, resp.body.len()), (StatusCode::NO_CONTENT, 0));
    let resp = get(&mut s, &server).await.unwrap();
    assert_eq!(
        (resp.status, resp.body.len()),
        (StatusCode::NOT_MODIFIED, 0)
    );
    assert_eq!(get(&mut s, &server).await.unwrap().body, "last");
    assert_eq!(
        server.accepts(),
        1,
        "no phantom body was waited for or left over"
    );
}

#[tokio::test]
async fn interim_100_continue_is_skipped() {
    let server = Server::spawn(|_| {
        reply(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n\
             HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone",
        )
    })
    .await;
    let mut s = session();
    let mut req = request(Method::POST, &server);
    req.body = bytes::Bytes::from_static(b"payload");
    let resp = s.send(req).await.unwrap();
    assert_eq!(
        (resp.status, &resp.body[..]),
        (StatusCode::CREATED, &b"done"[..])
    );
    assert_eq!(get(&mut s, &server).await.unwrap().body, "done");
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn a_response_written_one_byte_at_a_time() {
    let server = Server::spawn(|n| Reply {
        trickle: true,
        ..reply(if n == 0 {
            "HTTP/1.1 200 OK\r\nX-Long-Header: aaaaaaaaaaaaaaaa\r\nContent-Length: 11\r\n\r\nhello world"
        } else {
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;e=1\r\nde\r\n0\r\nT: x\r\n\r\n"
        })
    })
    .await;
    let mut s = session();
    let resp = get(&mut s, &server).await.unwrap();
    assert_eq!(resp.body, "hello world");
    assert_eq!(resp.headers["x-long-header"], "aaaaaaaaaaaaaaaa");
    assert_eq!(get(&mut s, &server).await.unwrap().body, "abcde");
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn connection_close_from_the_request_is_honoured() {
    let server = Server::spawn(|_| reply("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")).await;
    let mut s = session();
    for _ in 0..3 {
        let mut req = request(Method::GET, &server);
        req.headers
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        assert_eq!(s.send(req).await.unwrap().body, "ok");
    }
    assert_eq!(server.accepts(), 3);
    assert!(server.heads.lock().unwrap()[0].contains("\r\nconnection: close\r\n"));
}

#[tokio::test]
async fn bytes_after_the_response_drop_the_connection() {
    let server = Server::spawn(|_| {
        reply("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
    })
    .await;
    let mut s = session();
    assert_eq!(get(&mut s, &server).await.unwrap().body, "ok");
    assert_eq!(get(&mut s, &server).await.unwrap().body, "ok");
    assert_eq!(
        server.accepts(),
        2,
        "no pipelining: the leftover bytes are not read as a response"
    );
}

#[tokio::test]
async fn oversize_head_is_a_clear_error() {
    let big = format!(
        "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let server = Server::spawn(move |_| reply(&big)).await;
    let err = get(&mut session(), &server).await.unwrap_err();
    assert!(matches!(err, HttpError::ResponseHeadTooLarge(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "response head too large (over 65536 bytes)"
    );
}

#[tokio::test]
async fn garbage_status_line_is_a_protocol_error() {
    let server = Server::spawn(|_| then_close("SMTP ready\r\n\r\n")).await;
    let err = get(&mut session(), &server).await.unwrap_err();
    assert!(matches!(err, HttpError::Protocol(_)), "{err:?}");
    assert_eq!(err.to_string(), "http protocol error: invalid http version");

    let server = Server::spawn(|_| {
        reply("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx")
    })
    .await;
    let err = get(&mut session(), &server).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "http protocol error: conflicting content-length values"
    );

    let server =
        Server::spawn(|_| reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
            .await;
    let err = get(&mut session(), &server).await.unwrap_err();
    assert_eq!(err.to_string(), "http protocol error: invalid chunk size");
}

#[tokio::test]
async fn truncated_bodies_are_errors() {
    let server = Server::spawn(|n| match n {
        0 => then_close("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        1 => then_close("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
        _ => then_close("HTTP/1.1 200 OK\r\nContent-Le"),
    })
    .await;
    let mut s = session();
    for _ in 0..3 {
        let err = get(&mut s, &server).await.unwrap_err();
        assert!(matches!(err, HttpError::ConnectionClosed), "{err:?}");
        assert_eq!(
            err.to_string(),
            "connection closed before message completed"
        );
    }
}

#[tokio::test]
async fn gzip_chunked_body_is_decoded() {
    let text = "stampede gzip chunked body ".repeat(20);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let mut wire =
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in gz.chunks(7) {
        wire.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        wire.extend_from_slice(part);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let server = Server::spawn(move |_| Reply {
        bytes: wire.clone(),
        close: false,
        trickle: false,
    })
    .await;
    let resp = get(&mut session(), &server).await.unwrap();
    assert_eq!(resp.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(resp.body, text.as_bytes());
    assert_eq!(resp.content_length, text.len() as u64);
    let head = &server.heads.lock().unwrap()[0];
    assert!(head.contains("\r\naccept-encoding: gzip\r\n"), "{head}");
}
