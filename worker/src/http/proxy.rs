//! Requests through an HTTP proxy: the `Proxy-Authorization` value of a
//! proxy URL's credentials, and the CONNECT tunnel that https targets (and
//! HTTP/2 in cleartext) go through. Plain HTTP/1.1 requests to `http://`
//! targets go to the proxy in absolute form instead (`h1::encode`).

use base64::Engine as _;
use http::HeaderValue;
use stampede_common::run::ProxyUrl;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::HttpError;

/// The most bytes a proxy's answer to CONNECT may take.
const ANSWER_MAX: usize = 16 * 1024;

/// `Basic base64(user:password)`, when the proxy URL has credentials.
pub(crate) fn authorization(proxy: &ProxyUrl) -> Option<HeaderValue> {
    let creds = proxy.credentials.as_ref()?;
    let text = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(creds)
    );
    HeaderValue::from_str(&text).ok()
}

/// Asks the proxy on `tcp` for a tunnel to `authority` (`host:port`) and
/// reads its answer; on success the stream is the tunnel.
///
/// # Errors
///
/// [`HttpError::Proxy`] when the proxy refuses (407 for credentials), answers
/// something that is not HTTP, or sends bytes beyond its answer; socket
/// errors as usual.
pub(crate) async fn tunnel(
    tcp: &mut TcpStream,
    authority: &str,
    auth: Option<&HeaderValue>,
) -> Result<(), HttpError> {
    let io = |e: std::io::Error| HttpError::from_io(&e);
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n").into_bytes();
    if let Some(auth) = auth {
        head.extend_from_slice(b"proxy-authorization: ");
        head.extend_from_slice(auth.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    tcp.write_all(&head).await.map_err(io)?;
    let mut buf = Vec::with_capacity(512);
    loop {
        let mut chunk = [0u8; 512];
        let n = tcp.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            return Err(HttpError::Proxy(
                "the proxy closed the connection before answering CONNECT".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut answer = httparse::Response::new(&mut headers);
        match answer.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let code = answer.code.unwrap_or(0);
                let reason = answer.reason.unwrap_or("").to_ascii_lowercase();
                return match code {
                    200..=299 if len == buf.len() => Ok(()),
                    200..=299 => Err(HttpError::Proxy(
                        "the proxy sent bytes after its answer to CONNECT".into(),
                    )),
                    // 407 is the standard answer; tinyproxy says 401.
                    401 | 407 if auth.is_some() => Err(HttpError::Proxy(format!(
                        "the proxy refused the credentials ({code} {reason})"
                    ))),
                    401 | 407 => Err(HttpError::Proxy(format!(
                        "the proxy wants credentials ({code} {reason}): give them as http://user:password@host:port"
                    ))),
                    _ => Err(HttpError::Proxy(format!(
                        "the proxy refused the tunnel to {authority} ({code} {reason})"
                    ))),
                };
            }
            Ok(httparse::Status::Partial) if buf.len() < ANSWER_MAX => {}
            Ok(httparse::Status::Partial) => {
                return Err(HttpError::Proxy(
                    "the proxy's answer to CONNECT is too long".into(),
                ));
            }
            Err(e) => {
                return Err(HttpError::Proxy(format!(
                    "the proxy's answer to CONNECT is not http: {e}"
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_become_basic_auth() {
        let p: ProxyUrl = "http://aladdin:open%20sesame@127.0.0.1:3128"
            .parse()
            .unwrap();
        assert_eq!(
            authorization(&p).unwrap(),
            "Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        let none: ProxyUrl = "127.0.0.1:3128".parse().unwrap();
        assert_eq!(authorization(&none), None);
    }
}
