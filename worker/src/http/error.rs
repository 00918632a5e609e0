//! The session's error type and the mapping from io and rustls errors
//! to the short, stable messages shown in the failures table.

use std::fmt;
use std::io;
use std::time::Duration;

/// Why a request failed. The `Display` text is what users see in the
/// failures table: short, lowercase and stable across runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The target actively refused the TCP connection.
    #[error("connection refused")]
    ConnectionRefused,
    /// DNS, TCP connect and TLS handshake together took longer than
    /// `ClientOptions::connect_timeout`.
    #[error("connect timeout after {}", Human(*.0))]
    ConnectTimeout(Duration),
    /// The whole request (connect, send, response and body) took longer than
    /// `Request::timeout`.
    #[error("timeout after {}", Human(*.0))]
    Timeout(Duration),
    /// The peer reset the connection (RST, broken pipe).
    #[error("connection reset by peer")]
    ConnectionReset,
    /// The peer closed the connection before a complete response arrived.
    #[error("connection closed before message completed")]
    ConnectionClosed,
    /// The host name could not be resolved.
    #[error("dns error: {0}")]
    Dns(String),
    /// The TLS handshake or the TLS layer failed (certificate, protocol).
    #[error("tls error: {0}")]
    Tls(String),
    /// More than `ClientOptions::max_redirects` redirects in a row.
    #[error("too many redirects ({0})")]
    TooManyRedirects(u32),
    /// The URL's scheme is neither `http` nor `https`.
    #[error("unsupported url scheme `{0}`")]
    UnsupportedScheme(String),
    /// The URL (or a redirect's `Location`) cannot be requested.
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    /// The server's response is not valid HTTP/1.1.
    #[error("http protocol error: {0}")]
    Protocol(String),
    /// The HTTP/2 connection or stream failed (reset, GOAWAY, a server
    /// that does not speak HTTP/2, ...).
    #[error("http/2 error: {0}")]
    Http2(String),
    /// The proxy refused the tunnel or its credentials.
    #[error("proxy error: {0}")]
    Proxy(String),
    /// The response's head (status line and headers) or its trailers are
    /// larger than the limit, in bytes.
    #[error("response head too large (over {0} bytes)")]
    ResponseHeadTooLarge(usize),
    /// The response body (as received or decoded) is over the limit, in
    /// bytes (`--max-body-size`).
    #[error("response body over {} (--max-body-size)", Size(*.0))]
    BodyTooLarge(u64),
    /// A `Content-Encoding`d body could not be decoded.
    #[error("{encoding} decode error: {message}")]
    Decode {
        /// `gzip` or `deflate`.
        encoding: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// Another socket error (network unreachable, too many open files, ...).
    #[error("io error: {0}")]
    Io(String),
    /// `HttpClient::new` was given unusable options (for example a bad CA).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl HttpError {
    /// True for both the connect timeout and the request timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::ConnectTimeout(_) | Self::Timeout(_))
    }

    /// Maps a socket or TLS-layer error.
    pub(crate) fn from_io(err: &io::Error) -> Self {
        if let Some(tls) = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            return Self::Tls(tls.to_string());
        }
        match err.kind() {
            io::ErrorKind::ConnectionRefused => Self::ConnectionRefused,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Self::ConnectionReset,
            io::ErrorKind::UnexpectedEof => Self::ConnectionClosed,
            _ => Self::Io(lowercase_first(&err.to_string())),
        }
    }
}

pub(crate) fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A byte count for messages: `64 MiB`, `1500 bytes`.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
            if n >= 1 << shift && n.is_multiple_of(1 << shift) {
                return write!(f, "{} {unit}", n >> shift);
            }
        }
        write!(f, "{n} bytes")
    }
}

/// Compact duration for messages: `10s`, `200ms`, `1.5s`.
struct Human(Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 {
            write!(f, "{}s", d.as_secs())
        } else if d < Duration::from_secs(1) && d.subsec_nanos().is_multiple_of(1_000_000) {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{d:?}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(
            HttpError::BodyTooLarge(64 << 20).to_string(),
            "response body over 64 MiB (--max-body-size)"
        );
        assert_eq!(Size(1500).to_string(), "1500 bytes");
        assert_eq!(Size(3 << 30).to_string(), "3 GiB");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(
            HttpError::ConnectTimeout(Duration::from_secs(10)).to_string(),
            "connect timeout after 10s"
        );
        assert_eq!(
            HttpError::Timeout(Duration::from_millis(200)).to_string(),
            "timeout after 200ms"
        );
        assert_eq!(
            HttpError::Timeout(Duration::from_millis(1500)).to_string(),
            "timeout after 1.5s"
        );
    }
}
