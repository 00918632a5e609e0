//! Reading one HTTP/1.x response: the head parsed with `httparse` (interim
//! 1xx responses skipped, a size limit on the head), its body framing decided
//! from the status, the request method and the headers, and the body read as
//! framed (length, chunks with their extensions and trailers skipped, or up
//! to the connection's close), never past the body limit: an announced
//! length over it fails at once, a chunked or close-delimited body as soon
//! as it grows past it.

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, HeaderName, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::encode::has_token;
use crate::http::HttpError;

/// Largest response head (status line and headers, or trailers) accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Most header lines accepted in one response head.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (with extensions) accepted.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Read at least this much spare room per read.
const READ_ROOM: usize = 4 * 1024;
/// Largest allocation made up front for a body of announced size.
const PREALLOC_MAX: u64 = 1 << 20;

/// How the response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body (HEAD, 1xx, 204, 304, `Content-Length: 0`).
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// A parsed final response head.
#[derive(Debug)]
pub(super) struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// The server allows the connection to be reused.
    pub keep_alive: bool,
}

/// The response side of an exchange: the socket (any byte stream: the fuzz
/// targets feed it from memory), the exchange buffer (holding what was read
/// but not yet consumed) and whether any byte came.
pub(super) struct Reader<'a, S> {
    stream: &'a mut S,
    buf: &'a mut BytesMut,
    got_bytes: &'a mut bool,
    /// The largest body read.
    limit: u64,
}

impl<'a, S: AsyncRead + Unpin> Reader<'a, S> {
    pub fn new(
        stream: &'a mut S,
        buf: &'a mut BytesMut,
        got_bytes: &'a mut bool,
        limit: u64,
    ) -> Self {
        Self {
            limit,
            stream,
            buf,
            got_bytes,
        }
    }

    /// Reads more into the buffer; `Ok(0)` at end of stream.
    async fn read_more(&mut self) -> Result<usize, HttpError> {
        self.buf.reserve(READ_ROOM);
        match self.stream.read_buf(self.buf).await {
            Ok(n) => {
                *self.got_bytes |= n > 0;
                Ok(n)
            }
            Err(e) => Err(HttpError::from_io(&e)),
        }
    }

    /// Reads more, failing at end of stream: the response is incomplete.
    async fn read_some(&mut self) -> Result<(), HttpError> {
        match self.read_more().await? {
            0 => Err(HttpError::ConnectionClosed),
            _ => Ok(()),
        }
    }

    /// Reads the final response head, skipping interim (1xx) ones.
    pub async fn head(&mut self, head_request: bool) -> Result<Head, HttpError> {
        loop {
            if let Answer::Final(head) = self.next_head(head_request).await? {
                return Ok(head);
            }
        }
    }

    /// Waits for `100 Continue` (other interim responses are skipped) or a
    /// final response head, whichever comes first.
    pub async fn continue_or_final(&mut self, head_request: bool) -> Result<Answer, HttpError> {
        loop {
            match self.next_head(head_request).await? {
                Answer::Interim(100) => return Ok(Answer::Interim(100)),
                Answer::Interim(_) => {}
                last @ Answer::Final(_) => return Ok(last),
            }
        }
    }

    /// Reads the next response head, interim or final.
    async fn next_head(&mut self, head_request: bool) -> Result<Answer, HttpError> {
        loop {
            match parse_head(self.buf, head_request)? {
                // However the head arrived (in one read or many), over
                // the limit is over it.
                Parsed::Final(_, len) | Parsed::Interim(len, _) if len > MAX_HEAD => {
                    return Err(HttpError::ResponseHeadTooLarge(MAX_HEAD));
                }
                Parsed::Final(head, len) => {
                    self.buf.advance(len);
                    return Ok(Answer::Final(head));
                }
                Parsed::Interim(len, code) => {
                    self.buf.advance(len);
                    return Ok(Answer::Interim(code));
                }
                Parsed::Partial => {
                    if self.buf.len() >= MAX_HEAD {
                        return Err(HttpError::ResponseHeadTooLarge(MAX_HEAD));
                    }
                    self.read_some().await?;
                }
            }
        }
    }

    /// Reads the body as `framing` says. What follows it stays in the buffer.
    pub async fn body(&mut self, framing: Framing) -> Result<Bytes, HttpError> {
        match framing {
            Framing::Empty => Ok(Bytes::new()),
            Framing::Length(len) => {
                if len > self.limit {
                    return Err(HttpError::BodyTooLarge(self.limit));
                }
                if self.buf.len() as u64 >= len {
                    // The usual case: the whole body came with the head.
                    return Ok(Bytes::copy_from_slice(&self.buf.split_to(len as usize)));
                }
                let mut out = Vec::with_capacity(len.min(PREALLOC_MAX) as usize);
                self.copy_exact(&mut out, len).await?;
                Ok(out.into())
            }
            Framing::Chunked => self.chunked().await,
            Framing::Close => self.until_close().await,
        }
    }

    /// Moves exactly `len` body bytes to `out`, reading as needed.
    async fn copy_exact(&mut self, out: &mut Vec<u8>, mut len: u64) -> Result<(), HttpError> {
        loop {
            let take = (self.buf.len() as u64).min(len) as usize;
            out.extend_from_slice(&self.buf[..take]);
            self.buf.advance(take);
            len -= take as u64;
            if len == 0 {
                return Ok(());
            }
            self.read_some().await?;
        }
    }

    async fn chunked(&mut self) -> Result<Bytes, HttpError> {
        let mut out = Vec::new();
        loop {
            // Only the first bytes a size line may take are parsed, so that a
            // line past the limit fails the same way whether the bad byte
            // after the limit is buffered already or still to come.
            let line = &self.buf[..self.buf.len().min(MAX_CHUNK_LINE + 1)];
            match httparse::parse_chunk_size(line) {
                // Whole or in pieces: a size line past the limit fails.
                Ok(httparse::Status::Complete((used, _))) if used > MAX_CHUNK_LINE => {
                    return Err(protocol("chunk size line too long"));
                }
                Ok(httparse::Status::Complete((used, 0))) => {
                    self.buf.advance(used);
                    self.trailers().await?;
                    return Ok(out.into());
                }
                Ok(httparse::Status::Complete((used, size))) => {
                    if (out.len() as u64).saturating_add(size) > self.limit {
                        return Err(HttpError::BodyTooLarge(self.limit));
                    }
                    self.buf.advance(used);
                    self.copy_exact(&mut out, size).await?;
                    self.chunk_end().await?;
                }
                Ok(httparse::Status::Partial) if self.buf.len() > MAX_CHUNK_LINE => {
                    return Err(protocol("chunk size line too long"));
                }
                Ok(httparse::Status::Partial) => self.read_some().await?,
                Err(httparse::InvalidChunkSize) => return Err(protocol("invalid chunk size")),
            }
        }
    }

    /// The CRLF that ends a chunk's data.
    async fn chunk_end(&mut self) -> Result<(), HttpError> {
        while self.buf.len() < 2 {
            self.read_some().await?;
        }
        if &self.buf[..2] != b"\r\n" {
            return Err(protocol("missing crlf after chunk data"));
        }
        self.buf.advance(2);
        Ok(())
    }

    /// Skips the trailer section up to and including its empty line.
    async fn trailers(&mut self) -> Result<(), HttpError> {
        let mut seen = 0usize;
        loop {
            match self.buf.iter().position(|&b| b == b'\n') {
                // One rule however the bytes arrive: a section that grows
                // past the limit fails, whole or in pieces.
                Some(end) if seen + end + 1 > MAX_HEAD => {
                    return Err(HttpError::ResponseHeadTooLarge(MAX_HEAD));
                }
                Some(end) => {
                    let empty = end == 0 || (end == 1 && self.buf[0] == b'\r');
                    self.buf.advance(end + 1);
                    seen += end + 1;
                    if empty {
                        return Ok(());
                    }
                }
                None if seen + self.buf.len() >= MAX_HEAD => {
                    return Err(HttpError::ResponseHeadTooLarge(MAX_HEAD));
                }
                None => self.read_some().await?,
            }
        }
    }

    async fn until_close(&mut self) -> Result<Bytes, HttpError> {
        loop {
            // Checked before each read, so a body that came whole with the
            // head is held to the limit too (found by the fuzz target).
            if self.buf.len() as u64 > self.limit {
                return Err(HttpError::BodyTooLarge(self.limit));
            }
            match self.read_more().await {
                Ok(0) => return Ok(self.buf.split().freeze()),
                Ok(_) => {}
                // A TLS peer that closes without close_notify: the body
                // still ends there, as it does on plain TCP.
                Err(HttpError::ConnectionClosed) => return Ok(self.buf.split().freeze()),
                Err(e) => return Err(e),
            }
        }
    }
}

/// A response head read: an interim one (its status code) or the final one.
#[derive(Debug)]
pub(super) enum Answer {
    Interim(u16),
    Final(Head),
}

enum Parsed {
    Partial,
    /// An interim (1xx) response of this length and code.
    Interim(usize, u16),
    /// The final response head and its length.
    Final(Head, usize),
}

fn parse_head(buf: &[u8], head_request: bool) -> Result<Parsed, HttpError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::Protocol(format!(
                "too many headers (more than {MAX_HEADERS})"
            )));
        }
        Err(e) => return Err(HttpError::Protocol(e.to_string().to_lowercase())),
    };
    let code = resp.code.unwrap_or_default();
    let status = StatusCode::from_u16(code).map_err(|_| protocol("invalid status code"))?;
    if status.is_informational() && code != 101 {
        return Ok(Parsed::Interim(len, code));
    }
    let http10 = resp.version == Some(0);
    // One copy of the head; header values are slices of it.
    let raw = Bytes::copy_from_slice(&buf[..len]);
    let base = buf.as_ptr() as usize;
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    let (mut length, mut chunked, mut te) = (None::<u64>, false, false);
    let (mut close, mut keep_alive) = (false, false);
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| protocol("invalid header name"))?;
        let start = h.value.as_ptr() as usize - base;
        let value = HeaderValue::from_maybe_shared(raw.slice(start..start + h.value.len()))
            .map_err(|_| protocol("invalid header value"))?;
        if name == CONTENT_LENGTH {
            let n = parse_length(h.value)?;
            if length.is_some_and(|l| l != n) {
                return Err(protocol("conflicting content-length values"));
            }
            length = Some(n);
        } else if name == TRANSFER_ENCODING {
            te = true;
            // Only the last coding matters: chunked must be the final one.
            chunked = value
                .as_bytes()
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name == CONNECTION {
            close |= has_token(&value, "close");
            keep_alive |= has_token(&value, "keep-alive");
        }
        headers.append(name, value);
    }
    let no_body = head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = match (no_body, te, chunked, length) {
        (true, ..) => Framing::Empty,
        (false, true, true, _) => Framing::Chunked,
        (false, true, false, _) => Framing::Close,
        (false, false, _, Some(0)) => Framing::Empty,
        (false, false, _, Some(n)) => Framing::Length(n),
        (false, false, _, None) => Framing::Close,
    };
    let keep_alive = code != 101 && !close && (keep_alive || !http10);
    let head = Head {
        status,
        headers,
        framing,
        keep_alive,
    };
    Ok(Parsed::Final(head, len))
}

fn parse_length(value: &[u8]) -> Result<u64, HttpError> {
    let text = value.trim_ascii();
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return Err(protocol("invalid content-length"));
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| protocol("invalid content-length"))
}

fn protocol(message: &str) -> HttpError {
    HttpError::Protocol(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn final_head(text: &str, head_request: bool) -> Head {
        match parse_head(text.as_bytes(), head_request).unwrap() {
            Parsed::Final(head, len) => {
                assert_eq!(len, text.len());
                head
            }
            _ => panic!("not a final head: {text:?}"),
        }
    }

    #[test]
    fn framing_follows_status_method_and_headers() {
        let h = final_head("HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n", false);
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(12), true));
        let h = final_head("HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n", true);
        assert_eq!(h.framing, Framing::Empty);
        let h = final_head(
            "HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n",
            false,
        );
        assert_eq!(h.framing, Framing::Empty);
        let h = final_head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\ncontent-length: 3\r\n\r\n",
            false,
        );
        assert_eq!(h.framing, Framing::Chunked);
        let h = final_head("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", false);
        assert_eq!(h.framing, Framing::Close);
        let h = final_head("HTTP/1.0 200 OK\r\n\r\n", false);
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h = final_head(
            "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert_eq!((h.framing, h.keep_alive), (Framing::Empty, true));
        let h = final_head("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", false);
        assert!(!h.keep_alive);
    }

    #[test]
    fn interim_partial_and_bad_heads() {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
        assert!(matches!(
            parse_head(text.as_bytes(), false),
            Ok(Parsed::Interim(25, 100))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nA: b", false),
            Ok(Parsed::Partial)
        ));
        for (bad, msg) in [
            (
                "garbage\r\n\r\n",
                "http protocol error: invalid http version",
            ),
            (
                "HTTP/1.1 abc OK\r\n\r\n",
                "http protocol error: invalid response status",
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
                "http protocol error: invalid content-length",
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
                "http protocol error: conflicting content-length values",
            ),
        ] {
            let err = parse_head(bad.as_bytes(), false).err().unwrap();
            assert_eq!(err.to_string(), msg, "{bad:?}");
        }
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "a: b\r\n".repeat(MAX_HEADERS + 1)
        );
        let err = parse_head(many.as_bytes(), false).err().unwrap();
        assert_eq!(
            err.to_string(),
            "http protocol error: too many headers (more than 100)"
        );
    }

    #[test]
    fn header_values_are_kept_as_received() {
        let h = final_head(
            "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Thing:  v \r\n\r\n",
            false,
        );
        let cookies: Vec<_> = h.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(h.headers["x-thing"], "v");
    }
}
