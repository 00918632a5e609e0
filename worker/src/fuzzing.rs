//! Entry points of the fuzz targets (`fuzz/`) and of their regression tests
//! (`worker/tests/fuzz_corpus.rs`, which replays every committed input): the
//! HTTP/1.1 response reader fed arbitrary bytes in arbitrary pieces. Not an
//! API: hidden from the docs, kept compiled so that it cannot rot.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, ReadBuf};

use crate::http::{HttpError, body, h1};

/// The body limits a case picks from (its first byte): tiny ones reach the
/// limit paths, the last is the default.
const LIMITS: [u64; 4] = [16, 1024, 1 << 16, stampede_common::run::DEFAULT_MAX_BODY];

/// What one read of a response came to, compared between deliveries.
#[derive(Debug, PartialEq)]
enum Outcome {
    Response {
        status: u16,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    },
    Failed(String),
}

/// Reads `data` as a server's response: byte 0 picks HEAD or not and the
/// body limit, byte 1 seeds how the rest is cut into reads. The response is
/// read twice, once with every byte already buffered and once arriving in
/// those pieces, and both must come to the same outcome; the body, and its
/// decoding by `Content-Encoding`, never exceed the limit.
///
/// # Panics
///
/// On any difference or broken bound: that is what the fuzzer looks for.
pub fn h1_response(data: &[u8]) {
    let [flags, seed, response @ ..] = data else {
        return;
    };
    let head_request = flags & 1 == 1;
    let limit = LIMITS[usize::from((flags >> 1) & 3)];

    let whole = read_to_outcome(
        &mut Pieces::new(&[], 0),
        BytesMut::from(response),
        head_request,
        limit,
    );
    let pieces = read_to_outcome(
        &mut Pieces::new(response, *seed),
        BytesMut::new(),
        head_request,
        limit,
    );
    assert_eq!(
        whole, pieces,
        "the same bytes read whole and in pieces differ"
    );
}

fn read_to_outcome(
    stream: &mut Pieces<'_>,
    mut buf: BytesMut,
    head_request: bool,
    limit: u64,
) -> Outcome {
    let mut got = false;
    let read = h1::read_response(stream, &mut buf, &mut got, head_request, limit);
    let exchange = match poll_ready(read) {
        Ok(exchange) => exchange,
        Err(e) => return failed(&e),
    };
    assert!(exchange.body.len() as u64 <= limit, "a body over the limit");
    let headers = exchange
        .head
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    match body::decode(&exchange.head.headers, exchange.body, limit) {
        Ok(decoded) => {
            assert!(
                decoded.len() as u64 <= limit,
                "a decoded body over the limit"
            );
            Outcome::Response {
                status: exchange.head.status.as_u16(),
                headers,
                body: decoded.to_vec(),
            }
        }
        Err(e) => failed(&e),
    }
}

fn failed(e: &HttpError) -> Outcome {
    let message = e.to_string();
    assert!(
        !message.is_empty() && !message.contains('\n'),
        "an error message is one line: {message:?}"
    );
    Outcome::Failed(message)
}

/// Runs a future whose every read is ready at once to its end.
fn poll_ready<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the reader waited for something other than its bytes"),
    }
}

/// Bytes from memory, handed out in pieces whose sizes a seed decides (seed
/// 0: as much as the reader has room for), then end of stream.
struct Pieces<'a> {
    data: &'a [u8],
    state: u32,
}

impl<'a> Pieces<'a> {
    fn new(data: &'a [u8], seed: u8) -> Self {
        Self {
            data,
            state: u32::from(seed),
        }
    }

    /// The next piece's size: mostly tiny, sometimes large.
    fn next_len(&mut self) -> usize {
        if self.state == 0 {
            return usize::MAX;
        }
        // xorshift32: deterministic, so a saved case replays exactly.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        match self.state % 8 {
            0 => 1 + (self.state >> 8) as usize % 4096,
            n => n as usize,
        }
    }
}

impl AsyncRead for Pieces<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.next_len().min(buf.remaining()).min(self.data.len());
        let (piece, rest) = self.data.split_at(n);
        buf.put_slice(piece);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}
