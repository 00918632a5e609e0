//! `Expect: 100-continue` on the session's HTTP/1.1 exchange, against raw
//! TCP servers on 127.0.0.1:0: the body waits for `100 Continue`, is never
//! sent after a final response that came first (and that connection is not
//! reused), and goes after a second when the server says nothing.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, header};
use stampede_worker::http::{ClientOptions, HttpClient, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// Reads up to the end of a request head; what came after it is returned.
async fn read_head(tcp: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return buf.split_off(end + 4);
        }
        let mut chunk = [0u8; 4096];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed before the head ended");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Bytes that arrive within `wait` (none when the client sends nothing).
async fn arriving(tcp: &mut TcpStream, wait: Duration) -> Vec<u8> {
    let mut chunk = [0u8; 4096];
    match tokio::time::timeout(wait, tcp.read(&mut chunk)).await {
        Ok(Ok(n)) => chunk[..n].to_vec(),
        Ok(Err(_)) | Err(_) => Vec::new(),
    }
}

async fn listener() -> (TcpListener, Url) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/upload", listener.local_addr().unwrap())).unwrap();
    (listener, url)
}

fn post(url: &Url, body: &'static [u8]) -> Request {
    let mut req = Request::new(Method::POST, url.clone());
    req.headers
        .insert(header::EXPECT, HeaderValue::from_static("100-continue"));
    req.body = Bytes::from_static(body);
    req.timeout = Some(Duration::from_secs(10));
    req
}

#[tokio::test]
async fn the_body_waits_for_100_continue() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let early = read_head(&mut tcp).await;
        let early = [early, arriving(&mut tcp, Duration::from_millis(300)).await].concat();
        tcp.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .unwrap();
        let mut body = Vec::new();
        while body.len() < 5 {
            body.extend(arriving(&mut tcp, Duration::from_secs(5)).await);
        }
        let resp = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
        tcp.write_all(resp.as_bytes()).await.unwrap();
        tcp.write_all(&body).await.unwrap();
        early
    });
    let mut session = HttpClient::new(ClientOptions::default()).unwrap().session();
    let resp = session.send(post(&url, b"hello")).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(&resp.body[..], b"hello", "the body went after the 100");
    assert_eq!(
        server.await.unwrap(),
        b"",
        "no body byte before the 100 Continue"
    );
}

#[tokio::test]
async fn a_refusal_before_the_body_withholds_it_and_closes() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut early = read_head(&mut tcp).await;
        tcp.write_all(b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 2\r\n\r\nno")
            .await
            .unwrap();
        // Until the client closes: it must send nothing more.
        loop {
            let mut chunk = [0u8; 4096];
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => early.extend_from_slice(&chunk[..n]),
            }
        }
        let (mut second, _) = listener.accept().await.unwrap();
        read_head(&mut second).await;
        second
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
        early
    });
    let mut session = HttpClient::new(ClientOptions::default()).unwrap().session();
    let resp = session
        .send(post(&url, b"a body never sent"))
        .await
        .unwrap();
    assert_eq!(resp.status, 413);
    assert_eq!(&resp.body[..], b"no");
    // The refused connection is not reused: this one is a new connection.
    let again = session.send(Request::get(url.clone())).await.unwrap();
    assert_eq!(&again.body[..], b"ok");
    assert_eq!(server.await.unwrap(), b"", "the body was withheld");
}

#[tokio::test]
async fn without_an_answer_the_body_goes_after_a_second() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let start = Instant::now();
        let mut body = read_head(&mut tcp).await;
        while body.len() < 5 {
            body.extend(arriving(&mut tcp, Duration::from_secs(5)).await);
        }
        let waited = start.elapsed();
        tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
        (body, waited)
    });
    let mut session = HttpClient::new(ClientOptions::default()).unwrap().session();
    let resp = session.send(post(&url, b"hello")).await.unwrap();
    assert_eq!(&resp.body[..], b"ok");
    let (body, waited) = server.await.unwrap();
    assert_eq!(body, b"hello");
    assert!(
        waited >= Duration::from_millis(900),
        "the client waited for a 100 first: {waited:?}"
    );
}
