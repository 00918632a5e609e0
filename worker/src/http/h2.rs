//! HTTP/2 exchanges, on the `h2` crate: the request built from the same
//! [`Outgoing`] as an HTTP/1.1 one (same default headers, cookies and
//! body; `Host` becomes `:authority`, connection-specific headers are
//! dropped), the response read whole, with its flow-control credit given
//! back as it arrives.
//!
//! - A user's own connection ([`Own`]) is driven by the user's task while
//!   one of its requests is in flight, and not polled at all while parked,
//!   as a parked HTTP/1.1 socket is: nothing is spawned per connection, and
//!   frames the server sent meanwhile (SETTINGS, PING, GOAWAY) are handled
//!   when the user comes back, by the liveness check before reuse.
//! - A shared connection (`super::shared`) is driven by a task of its own,
//!   and its users only hold a `SendRequest` handle.
//! - HTTP/2 in cleartext is spoken by prior knowledge (h2c); a server that
//!   answers it in HTTP/1.1 fails the request with a message that says so
//!   ([`Sniff`]).

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use ::h2::client::{Builder, Connection, SendRequest};
use bytes::{Bytes, BytesMut};
use http::header::{
    ACCEPT_ENCODING, CONNECTION, CONTENT_LENGTH, COOKIE, HOST, TE, TRANSFER_ENCODING, UPGRADE,
    USER_AGENT,
};
use http::{HeaderValue, Method, Uri, Version};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use url::Position;

use super::HttpError;
use super::conn::Stream;
use super::h1::{Exchange, Outgoing, ResponseHead, cookie_header, has_token};

/// A connection's I/O half, as the `h2` crate drives it.
pub(crate) type Driver = Connection<Sniff<Stream>, Bytes>;

/// Flow-control windows offered to the server: big enough that a response
/// of a few MiB is not held back by window updates (hyper's client offers
/// 2 MiB and 5 MiB); only credit, no buffer of that size is kept.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;

/// Sends the connection preface on `stream`.
pub(crate) async fn handshake(stream: Stream) -> Result<(SendRequest<Bytes>, Driver), HttpError> {
    Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .enable_push(false)
        .handshake(Sniff::new(stream))
        .await
        .map_err(|e| map_err(&e))
}

/// A virtual user's own HTTP/2 connection.
pub(crate) struct Own {
    send: SendRequest<Bytes>,
    driver: Driver,
}

impl std::fmt::Debug for Own {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("h2::Own")
    }
}

impl Own {
    /// A new connection on `stream`.
    pub async fn handshake(stream: Stream) -> Result<Self, HttpError> {
        let (send, driver) = handshake(stream).await?;
        Ok(Self { send, driver })
    }

    /// Processes what the server sent while the connection was parked; it
    /// can be reused unless that closed it (GOAWAY, EOF, an error).
    pub fn is_reusable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        if Pin::new(&mut self.driver).poll(&mut cx).is_ready() {
            return false;
        }
        !matches!(self.send.poll_ready(&mut cx), Poll::Ready(Err(_)))
    }

    /// One request on this connection, driving it meanwhile.
    pub async fn exchange(
        &mut self,
        out: &Outgoing<'_>,
        body: &Bytes,
        got_bytes: &mut bool,
    ) -> Result<Exchange, HttpError> {
        let work = exchange(&mut self.send, out, body, got_bytes);
        drive(work, &mut self.driver).await
    }
}

/// Sends `out` (with `body`) as a new stream on `send` and reads the whole
/// response; something else must drive the connection meanwhile.
pub(crate) async fn exchange(
    send: &mut SendRequest<Bytes>,
    out: &Outgoing<'_>,
    body: &Bytes,
    got_bytes: &mut bool,
) -> Result<Exchange, HttpError> {
    let (request, close) = request(out)?;
    let err = |e: ::h2::Error| map_err(&e);
    poll_fn(|cx| send.poll_ready(cx)).await.map_err(err)?;
    let end = body.is_empty();
    let (response, mut outgoing) = send.send_request(request, end).map_err(err)?;
    if !end {
        outgoing.send_data(body.clone(), true).map_err(err)?;
    }
    let response = response.await.map_err(err)?;
    *got_bytes = true;
    let (head, mut incoming) = response.into_parts();
    let mut first: Option<Bytes> = None;
    let mut more = BytesMut::new();
    while let Some(chunk) = incoming.data().await {
        let chunk = chunk.map_err(err)?;
        let so_far = first.as_ref().map_or(more.len(), Bytes::len);
        if (so_far + chunk.len()) as u64 > out.max_body {
            // Dropping the stream resets it: the server stops sending.
            return Err(HttpError::BodyTooLarge(out.max_body));
        }
        // Credit back at once: the body is kept here, not in h2's buffers.
        let _ = incoming.flow_control().release_capacity(chunk.len());
        match &first {
            None if more.is_empty() => first = Some(chunk),
            _ => {
                if let Some(f) = first.take() {
                    more.extend_from_slice(&f);
                }
                more.extend_from_slice(&chunk);
            }
        }
    }
    Ok(Exchange {
        head: ResponseHead {
            status: head.status,
            headers: head.headers,
        },
        body: first.unwrap_or_else(|| more.freeze()),
        reusable: !close,
    })
}

/// Runs `work` while driving the connection; a connection that ends first
/// ends the work with its error.
async fn drive<T>(
    work: impl Future<Output = Result<T, HttpError>>,
    driver: &mut Driver,
) -> Result<T, HttpError> {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        match Pin::new(&mut *driver).poll(cx) {
            // What the driver read may have answered the work: look now
            // rather than after a round through the scheduler.
            Poll::Pending => work.as_mut().poll(cx),
            Poll::Ready(Err(e)) => Poll::Ready(Err(map_err(&e))),
            Poll::Ready(Ok(())) => {
                // Closed cleanly (GOAWAY): the streams have their answer now,
                // and none will come later.
                match work.as_mut().poll(cx) {
                    Poll::Ready(out) => Poll::Ready(out),
                    Poll::Pending => Poll::Ready(Err(HttpError::ConnectionClosed)),
                }
            }
        }
    })
    .await
}

/// The request head as HTTP/2 carries it, and whether the caller asked to
/// close the connection after it (`Connection: close`).
fn request(out: &Outgoing<'_>) -> Result<(http::Request<()>, bool), HttpError> {
    let url = out.url;
    let authority = match out.headers.get(HOST) {
        Some(h) => h
            .to_str()
            .map_err(|_| HttpError::InvalidUrl("the host header is not ascii".into()))?,
        None => &url[Position::BeforeHost..Position::AfterPort],
    };
    let path = match &url[Position::BeforePath..Position::AfterQuery] {
        "" => "/",
        p => p,
    };
    let uri = Uri::builder()
        .scheme(url.scheme())
        .authority(authority)
        .path_and_query(path)
        .build()
        .map_err(|e| HttpError::InvalidUrl(format!("`{url}`: {e}")))?;
    let mut req = http::Request::new(());
    *req.method_mut() = out.method.clone();
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_2;
    let headers = req.headers_mut();
    let mut close = false;
    for (name, value) in out.headers {
        if name == CONNECTION {
            close |= has_token(value, "close");
            continue;
        }
        let connection_specific = name == HOST
            || name == TRANSFER_ENCODING
            || name == UPGRADE
            || matches!(name.as_str(), "keep-alive" | "proxy-connection")
            || (name == TE && value != "trailers");
        if !connection_specific {
            headers.append(name.clone(), value.clone());
        }
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, out.user_agent.clone());
    }
    if !headers.contains_key(ACCEPT_ENCODING) {
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if !headers.contains_key(COOKIE)
        && let Some(c) = cookie_header(out.cookies, url)
        && let Ok(v) = HeaderValue::from_str(&c)
    {
        headers.insert(COOKIE, v);
    }
    let has_body =
        !out.body.is_empty() || matches!(*out.method, Method::POST | Method::PUT | Method::PATCH);
    if has_body && !headers.contains_key(CONTENT_LENGTH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(out.body.len()));
    }
    Ok((req, close))
}

/// Why a server does not speak HTTP/2 in cleartext: it answered in HTTP/1.
const NOT_H2C: &str = "the server answered in http/1.1: it does not speak http/2 in cleartext (h2c with prior knowledge); use http_version auto or \"1.1\", or https";
/// ... or with something else that is no HTTP/2 preface.
const NOT_H2: &str =
    "the server's first bytes are no http/2 preface: it does not speak http/2 here";

/// Maps an `h2` error to the session's.
fn map_err(e: &::h2::Error) -> HttpError {
    if let Some(io) = e.get_io() {
        // h2 keeps an io error's kind and text, not the error itself.
        let text = io.to_string();
        if io.kind() == io::ErrorKind::InvalidData && (text == NOT_H2C || text == NOT_H2) {
            return HttpError::Http2(text);
        }
        return HttpError::from_io(io);
    }
    HttpError::Http2(super::error::lowercase_first(&e.to_string()))
}

/// The connection's stream, watching its first five bytes: a server's
/// HTTP/2 preface is a SETTINGS frame (type 4 in its fourth byte), and
/// anything else there (`HTTP/`: an HTTP/1 answer to ours) fails the read
/// with a message that says so, instead of the frame-size error h2 would
/// find.
#[derive(Debug)]
pub(crate) struct Sniff<S> {
    inner: S,
    head: [u8; 5],
    seen: u8,
}

impl<S> Sniff<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            head: [0; 5],
            seen: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Sniff<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let want = this.head.len() - usize::from(this.seen);
        if want > 0 && polled.is_ready() {
            let new = &buf.filled()[before..];
            let take = new.len().min(want);
            let at = usize::from(this.seen);
            this.head[at..at + take].copy_from_slice(&new[..take]);
            this.seen += take as u8;
            if usize::from(this.seen) == this.head.len() && this.head[3] != 4 {
                let why = if &this.head == b"HTTP/" {
                    NOT_H2C
                } else {
                    NOT_H2
                };
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, why)));
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniff<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cookie_store::CookieStore;
    use http::HeaderMap;

    #[tokio::test]
    async fn an_http1_answer_to_the_preface_says_so() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut own = Own::handshake(Stream::Plain(tcp)).await.unwrap();
        let url = url::Url::parse(&format!("http://{addr}/")).unwrap();
        let (ua, cookies, headers) = (
            HeaderValue::from_static("ua"),
            CookieStore::new(),
            HeaderMap::new(),
        );
        let out = Outgoing::for_test(&Method::GET, &url, &headers, b"", &ua, &cookies);
        let err = own
            .exchange(&out, &Bytes::new(), &mut false)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), format!("http/2 error: {NOT_H2C}"));
    }

    #[test]
    fn the_request_keeps_the_defaults_and_drops_connection_headers() {
        let url = url::Url::parse("http://a.test:8080/p?q=1").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        headers.insert(HOST, HeaderValue::from_static("other.test"));
        headers.insert("x-a", HeaderValue::from_static("1"));
        let (ua, cookies) = (HeaderValue::from_static("ua/1"), CookieStore::new());
        let out = Outgoing::for_test(&Method::POST, &url, &headers, b"hi", &ua, &cookies);
        let (req, close) = request(&out).unwrap();
        assert!(close);
        assert_eq!(req.uri(), "http://other.test/p?q=1");
        let h = req.headers();
        assert_eq!(h.get("x-a").unwrap(), "1");
        assert_eq!(h.get(USER_AGENT).unwrap(), "ua/1");
        assert_eq!(h.get(CONTENT_LENGTH).unwrap(), "2");
        assert!(h.get(HOST).is_none() && h.get(CONNECTION).is_none());
    }
}
