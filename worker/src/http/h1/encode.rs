//! Writing one HTTP/1.1 request into the exchange buffer: request line
//! (origin-form target), `Host`, the caller's headers, the session's defaults
//! where the caller set none (`User-Agent`, `Accept-Encoding: gzip`, the jar's
//! `Cookie`, `Content-Length`), then the body when it is small enough to copy.

use bytes::{BufMut, BytesMut};
use cookie_store::CookieStore;
use http::header::{
    ACCEPT_ENCODING, CONNECTION, CONTENT_LENGTH, COOKIE, EXPECT, HOST, TRANSFER_ENCODING,
    USER_AGENT,
};
use http::{HeaderMap, HeaderValue, Method};
use url::{Position, Url};

/// Bodies up to this size are copied behind the head and sent with it in one
/// write; bigger ones are written on their own.
const INLINE_BODY_MAX: usize = 16 * 1024;

/// One request as it goes on the wire.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    pub method: &'a Method,
    pub url: &'a Url,
    /// The caller's headers; they win over the defaults.
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub user_agent: &'a HeaderValue,
    pub cookies: &'a CookieStore,
    /// Sent to a proxy: the request target in absolute form, with this
    /// `Proxy-Authorization` if any.
    pub via_proxy: Option<Option<&'a HeaderValue>>,
    /// The largest response body read.
    pub max_body: u64,
}

impl<'a> Outgoing<'a> {
    pub(super) fn is_head(&self) -> bool {
        *self.method == Method::HEAD
    }

    /// A request to `url` with no proxy and no body limit, for tests.
    #[cfg(test)]
    pub(crate) fn for_test(
        method: &'a Method,
        url: &'a Url,
        headers: &'a HeaderMap,
        body: &'a [u8],
        user_agent: &'a HeaderValue,
        cookies: &'a CookieStore,
    ) -> Self {
        Self {
            method,
            url,
            headers,
            body,
            user_agent,
            cookies,
            via_proxy: None,
            max_body: u64::MAX,
        }
    }
}

/// What [`request`] wrote.
#[derive(Debug)]
pub(super) struct Encoded {
    /// The body is in the buffer (else it must be written after it).
    pub body_inline: bool,
    /// The request asked the server to close the connection.
    pub close: bool,
    /// The caller sent `Expect: 100-continue` with a body of known length:
    /// the body is not in the buffer, and waits for the server's go-ahead.
    pub expect_continue: bool,
}

/// Appends the request head, and the body when small, to `buf`.
pub(super) fn request(req: &Outgoing<'_>, buf: &mut BytesMut) -> Encoded {
    let url = req.url;
    let headers = req.headers;
    buf.put_slice(req.method.as_str().as_bytes());
    buf.put_u8(b' ');
    if req.via_proxy.is_some() {
        buf.put_slice(url[..Position::BeforePath].as_bytes());
    }
    let target = &url[Position::BeforePath..Position::AfterQuery];
    buf.put_slice(if target.is_empty() {
        b"/"
    } else {
        target.as_bytes()
    });
    buf.put_slice(b" HTTP/1.1\r\n");
    if let Some(Some(auth)) = req.via_proxy {
        line(buf, b"proxy-authorization", auth.as_bytes());
    }
    if !headers.contains_key(HOST) {
        line(
            buf,
            b"host",
            url[Position::BeforeHost..Position::AfterPort].as_bytes(),
        );
    }
    for (name, value) in headers {
        line(buf, name.as_str().as_bytes(), value.as_bytes());
    }
    if !headers.contains_key(USER_AGENT) {
        line(buf, b"user-agent", req.user_agent.as_bytes());
    }
    if !headers.contains_key(ACCEPT_ENCODING) {
        line(buf, b"accept-encoding", b"gzip");
    }
    if !headers.contains_key(COOKIE) {
        cookie_line(buf, req.cookies, url);
    }
    let chunked = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .any(|v| has_token(v, "chunked"));
    let has_body =
        !req.body.is_empty() || matches!(*req.method, Method::POST | Method::PUT | Method::PATCH);
    if has_body && !chunked && !headers.contains_key(CONTENT_LENGTH) {
        buf.put_slice(b"content-length: ");
        decimal(buf, req.body.len() as u64);
        buf.put_slice(b"\r\n");
    }
    buf.put_slice(b"\r\n");
    let close = headers
        .get_all(CONNECTION)
        .iter()
        .any(|v| has_token(v, "close"));
    if chunked {
        // The caller asked for chunked framing: the whole body is one chunk.
        if !req.body.is_empty() {
            hex(buf, req.body.len());
            buf.put_slice(b"\r\n");
            buf.put_slice(req.body);
            buf.put_slice(b"\r\n");
        }
        buf.put_slice(b"0\r\n\r\n");
        return Encoded {
            body_inline: true,
            close,
            expect_continue: false,
        };
    }
    let expect_continue = !req.body.is_empty()
        && headers
            .get_all(EXPECT)
            .iter()
            .any(|v| has_token(v, "100-continue"));
    let body_inline = !expect_continue && req.body.len() <= INLINE_BODY_MAX;
    if body_inline {
        buf.put_slice(req.body);
    }
    Encoded {
        body_inline,
        close,
        expect_continue,
    }
}

fn line(buf: &mut BytesMut, name: &[u8], value: &[u8]) {
    buf.put_slice(name);
    buf.put_slice(b": ");
    buf.put_slice(value);
    buf.put_slice(b"\r\n");
}

/// `cookie: a=1; b=2`, from the jar's cookies for `url`, if it has any.
fn cookie_line(buf: &mut BytesMut, cookies: &CookieStore, url: &Url) {
    if cookies.iter_any().next().is_none() {
        return;
    }
    let mut first = true;
    for (name, value) in cookies.get_request_values(url) {
        buf.put_slice(if first { b"cookie: " } else { b"; " });
        first = false;
        buf.put_slice(name.as_bytes());
        buf.put_u8(b'=');
        buf.put_slice(value.as_bytes());
    }
    if !first {
        buf.put_slice(b"\r\n");
    }
}

/// The `Cookie` header value the jar has for `url`, if any.
pub(crate) fn cookie_header(cookies: &CookieStore, url: &Url) -> Option<String> {
    let mut out = String::new();
    for (name, value) in cookies.get_request_values(url) {
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    (!out.is_empty()).then_some(out)
}

/// True when the comma-separated header value has `token` (any case).
pub(crate) fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .as_bytes()
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

fn decimal(buf: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.put_slice(&digits[i..]);
}

fn hex(buf: &mut BytesMut, mut n: usize) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n % 16];
        n /= 16;
        if n == 0 {
            break;
        }
    }
    buf.put_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(method: Method, url: &str, headers: HeaderMap, body: &[u8]) -> (String, Encoded) {
        let url = Url::parse(url).unwrap();
        let ua = HeaderValue::from_static("ua/1");
        let cookies = CookieStore::new();
        let req = Outgoing::for_test(&method, &url, &headers, body, &ua, &cookies);
        let mut buf = BytesMut::new();
        let enc = request(&req, &mut buf);
        (String::from_utf8(buf.to_vec()).unwrap(), enc)
    }

    #[test]
    fn get_has_host_and_defaults_and_no_length() {
        let (text, enc) = encode(
            Method::GET,
            "http://a.test:8080/p?q=1",
            HeaderMap::new(),
            b"",
        );
        assert_eq!(
            text,
            "GET /p?q=1 HTTP/1.1\r\nhost: a.test:8080\r\nuser-agent: ua/1\r\n\
             accept-encoding: gzip\r\n\r\n"
        );
        assert!(enc.body_inline && !enc.close);
    }

    #[test]
    fn caller_headers_win_and_post_gets_a_length() {
        let mut h = HeaderMap::new();
        h.insert(USER_AGENT, HeaderValue::from_static("mine"));
        h.insert(CONNECTION, HeaderValue::from_static("Keep-Alive, Close"));
        let (text, enc) = encode(Method::POST, "http://a.test/", h, b"hello");
        assert_eq!(
            text,
            "POST / HTTP/1.1\r\nhost: a.test\r\nuser-agent: mine\r\nconnection: Keep-Alive, \
             Close\r\naccept-encoding: gzip\r\ncontent-length: 5\r\n\r\nhello"
        );
        assert!(enc.close);
        let (text, _) = encode(Method::PUT, "http://a.test/", HeaderMap::new(), b"");
        assert!(text.ends_with("content-length: 0\r\n\r\n"), "{text}");
    }

    #[test]
    fn a_request_to_a_proxy_is_in_absolute_form_with_its_credentials() {
        let url = Url::parse("http://a.test:8080/p?q=1").unwrap();
        let (ua, cookies, auth) = (
            HeaderValue::from_static("ua/1"),
            CookieStore::new(),
            HeaderValue::from_static("Basic dTpw"),
        );
        let headers = HeaderMap::new();
        let req = Outgoing {
            via_proxy: Some(Some(&auth)),
            ..Outgoing::for_test(&Method::GET, &url, &headers, b"", &ua, &cookies)
        };
        let mut buf = BytesMut::new();
        request(&req, &mut buf);
        assert!(
            buf.starts_with(
                b"GET http://a.test:8080/p?q=1 HTTP/1.1\r\nproxy-authorization: Basic dTpw\r\nhost: a.test:8080\r\n"
            ),
            "{buf:?}"
        );
    }

    #[test]
    fn expect_continue_keeps_the_body_apart() {
        let mut h = HeaderMap::new();
        h.insert(EXPECT, HeaderValue::from_static("100-Continue"));
        let (text, enc) = encode(Method::POST, "http://a.test/", h.clone(), b"small");
        assert!(enc.expect_continue && !enc.body_inline, "{enc:?}");
        assert!(text.ends_with("content-length: 5\r\n\r\n"), "{text}");
        let (_, enc) = encode(Method::POST, "http://a.test/", h.clone(), b"");
        assert!(!enc.expect_continue, "no body, nothing to wait for");
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        let (_, enc) = encode(Method::POST, "http://a.test/", h, b"small");
        assert!(
            !enc.expect_continue && enc.body_inline,
            "chunked goes at once"
        );
    }

    #[test]
    fn chunked_body_on_request_and_big_body_apart() {
        let mut h = HeaderMap::new();
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        let body = vec![b'x'; 300];
        let (text, _) = encode(Method::POST, "http://a.test/", h, &body);
        assert!(text.ends_with(&format!("\r\n\r\n12c\r\n{}\r\n0\r\n\r\n", "x".repeat(300))));
        assert!(!text.contains("content-length"));
        let big = vec![b'y'; INLINE_BODY_MAX + 1];
        let (text, enc) = encode(Method::POST, "http://a.test/", HeaderMap::new(), &big);
        assert!(!enc.body_inline);
        assert!(text.ends_with("content-length: 16385\r\n\r\n"), "{text}");
    }
}
