//! The engine's own HTTP/1.1 client exchange: one request written and one
//! response read on a connection the session lends it, without hyper.
//!
//! - [`encode`] writes the request head (and a small body) into one buffer,
//!   sent with one write.
//! - [`read`] parses the response head with `httparse` and reads the body as
//!   it is framed: `Content-Length`, `Transfer-Encoding: chunked` (extensions
//!   and trailers skipped), or delimited by the connection's close; no body
//!   for HEAD, 1xx, 204 and 304. Interim 1xx responses (`100 Continue`) are
//!   skipped.
//! - A request with `Expect: 100-continue` and a body (of known length)
//!   sends its head alone and waits up to `CONTINUE_WAIT` (1 s, as curl)
//!   for `100 Continue`, then sends the body; a final response before that
//!   (the server refused, say 401 or 413) means the body is never sent and
//!   the connection is closed after the response.
//! - This module decides whether the connection may be reused: both sides
//!   allow keep-alive (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
//!   `Connection: keep-alive`), the body was framed by length or chunks, and
//!   nothing arrived beyond the response (no pipelining: extra bytes mean the
//!   connection is dropped).
//!
//! The one buffer an exchange uses (request out, then response in) comes from
//! a small per-thread pool and goes back to it when the exchange ends, so a
//! busy user reuses warm buffers and an idle (parked) connection holds none.

mod encode;
mod read;

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use tokio::io::{AsyncRead, AsyncWriteExt};

pub(crate) use encode::{Outgoing, cookie_header, has_token};

use super::HttpError;
use super::conn::Stream;

/// A response's status line and headers.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub status: StatusCode,
    pub headers: HeaderMap,
}

/// What one exchange produced.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub head: ResponseHead,
    /// The body as received (not yet content-decoded).
    pub body: Bytes,
    /// The connection is in a clean state and both sides allow keep-alive.
    pub reusable: bool,
}

/// Sends `req` on `stream` and reads the whole response. Sets `got_bytes` as
/// soon as any response byte arrives, so the caller can tell a stale
/// keep-alive connection (nothing received) from a real failure.
///
/// # Errors
///
/// Socket errors (see [`HttpError::from_io`]), [`HttpError::ConnectionClosed`]
/// when the peer closes before the response is complete,
/// [`HttpError::Protocol`] for a malformed response and
/// [`HttpError::ResponseHeadTooLarge`].
pub(crate) async fn exchange(
    stream: &mut Stream,
    req: &Outgoing<'_>,
    got_bytes: &mut bool,
) -> Result<Exchange, HttpError> {
    let mut buf = PooledBuf::take();
    let sent = encode::request(req, &mut buf.0);
    let io_err = |e: std::io::Error| HttpError::from_io(&e);
    stream.write_all(&buf.0).await.map_err(io_err)?;
    buf.0.clear();
    // A final response that came before the body was sent (`Expect:
    // 100-continue` refused): the body is withheld.
    let mut early = None;
    if sent.expect_continue {
        stream.flush().await.map_err(io_err)?;
        let mut reader = read::Reader::new(stream, &mut buf.0, got_bytes, req.max_body);
        // Reading into the buffer is cancel-safe: a head cut by the wait
        // is read on below.
        match tokio::time::timeout(CONTINUE_WAIT, reader.continue_or_final(req.is_head())).await {
            Ok(Ok(read::Answer::Final(head))) => early = Some(head),
            Ok(Ok(read::Answer::Interim(_))) | Err(_) => {}
            Ok(Err(e)) => return Err(e),
        }
    }
    if !sent.body_inline && early.is_none() {
        stream.write_all(req.body).await.map_err(io_err)?;
    }
    stream.flush().await.map_err(io_err)?;

    let withheld = early.is_some();
    let mut done = read_from(
        stream,
        &mut buf.0,
        got_bytes,
        req.is_head(),
        req.max_body,
        early,
    )
    .await?;
    // The server may still wait for the withheld body: not reused.
    done.reusable &= !sent.close && !withheld;
    Ok(done)
}

/// Reads one response off `stream` into `buf` (empty, or holding bytes
/// already read): the final head, then the body as framed, at most
/// `max_body` bytes. Reusable when the server allows keep-alive and nothing
/// followed the framed body. The fuzz targets (`crate::fuzzing`) call it on
/// bytes from memory, delivered in pieces.
pub(crate) async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    got_bytes: &mut bool,
    head_request: bool,
    max_body: u64,
) -> Result<Exchange, HttpError> {
    read_from(stream, buf, got_bytes, head_request, max_body, None).await
}

/// [`read_response`], its head already read when `early` holds one.
async fn read_from<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    got_bytes: &mut bool,
    head_request: bool,
    max_body: u64,
    early: Option<read::Head>,
) -> Result<Exchange, HttpError> {
    let mut reader = read::Reader::new(stream, buf, got_bytes, max_body);
    let head = match early {
        Some(head) => head,
        None => reader.head(head_request).await?,
    };
    let body = reader.body(head.framing).await?;
    let clean = buf.is_empty() && head.framing != read::Framing::Close;
    Ok(Exchange {
        reusable: clean && head.keep_alive,
        head: ResponseHead {
            status: head.status,
            headers: head.headers,
        },
        body,
    })
}

/// How long a request with `Expect: 100-continue` waits for the server's
/// `100 Continue` (or final response) before it sends the body anyway:
/// curl's default.
const CONTINUE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Capacity of a fresh exchange buffer: a typical request head or response
/// head plus a small body fits.
const BUF_CAPACITY: usize = 8 * 1024;
/// Buffers that grew beyond this (big bodies) are freed, not pooled.
const BUF_KEEP_MAX: usize = 64 * 1024;
/// Buffers kept per thread (at most 512 KiB): enough for the exchanges in
/// flight on a busy thread of a closed loop; beyond that, buffers are
/// allocated and freed per exchange.
const POOL_MAX: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// An exchange buffer taken from this thread's pool; given back on drop
/// (also when the exchange is cancelled or fails).
struct PooledBuf(BytesMut);

impl PooledBuf {
    fn take() -> Self {
        let mut buf = POOL
            .try_with(|pool| pool.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        // Also moves a reused buffer's start back to its allocation's start.
        buf.reserve(BUF_CAPACITY);
        Self(buf)
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.0);
        if buf.capacity() > BUF_KEEP_MAX {
            return;
        }
        buf.clear();
        // A thread being torn down has no pool any more; the buffer is freed.
        let _ = POOL.try_with(|pool| {
            if let Ok(mut pool) = pool.try_borrow_mut()
                && pool.len() < POOL_MAX
            {
                pool.push(buf);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_buffers_are_reused_and_big_ones_dropped() {
        let first = PooledBuf::take();
        let ptr = first.0.as_ptr();
        drop(first);
        let mut again = PooledBuf::take();
        assert_eq!(
            again.0.as_ptr(),
            ptr,
            "the pooled buffer is handed out again"
        );
        assert_eq!(POOL.with_borrow(Vec::len), 0);
        again.0.reserve(BUF_KEEP_MAX * 2);
        drop(again);
        assert_eq!(
            POOL.with_borrow(Vec::len),
            0,
            "a grown buffer is not pooled"
        );
        assert!(PooledBuf::take().0.capacity() >= BUF_CAPACITY);
    }
}
