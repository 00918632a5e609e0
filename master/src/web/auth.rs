//! Access to the UI: `--web-login user:password` (HTTP Basic, which browsers
//! prompt for) and `--web-token TOKEN` (`Authorization: Bearer`, or once as
//! `?token=` in the page's address, which then sets a cookie). Without either,
//! everything is open. Credentials are compared in constant time. Requests
//! that change state are refused when another site's page sends them, and a
//! UI listening on loopback answers only requests addressed to a loopback
//! name, so a page whose domain was rebound to 127.0.0.1 reaches nothing.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, SET_COOKIE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::api::error;

const COOKIE_NAME: &str = "stampede_token";

/// Unusable credentials.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not `user:password`.
    #[error("expected user:password with a non-empty user and password")]
    BadLogin,
    /// An empty token.
    #[error("the token must not be empty")]
    EmptyToken,
}

/// Who may use the UI.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// The whole `Authorization` value a Basic login sends.
    basic: Option<String>,
    token: Option<String>,
    /// Only `Host: localhost` or a loopback address is answered (set by
    /// [`super::serve`] for a loopback listener).
    loopback_hosts: bool,
}

impl Auth {
    /// Open to anyone.
    pub fn none() -> Self {
        Self::default()
    }

    /// A login (`user:password`) and/or a token; either one lets a request in.
    ///
    /// # Errors
    ///
    /// A login without `:`, an empty user or password, or an empty token.
    pub fn new(login: Option<&str>, token: Option<&str>) -> Result<Self, AuthError> {
        let basic = match login {
            Some(l) => match l.split_once(':') {
                Some((user, pass)) if !user.is_empty() && !pass.is_empty() => {
                    Some(format!("Basic {}", base64(l.as_bytes())))
                }
                _ => return Err(AuthError::BadLogin),
            },
            None => None,
        };
        let token = match token {
            Some("") => return Err(AuthError::EmptyToken),
            t => t.map(str::to_owned),
        };
        Ok(Self {
            basic,
            token,
            loopback_hosts: false,
        })
    }

    /// Answers only requests whose `Host` is `localhost` or a loopback
    /// address (a defence against DNS rebinding, for a UI on loopback).
    pub fn loopback_hosts_only(mut self) -> Self {
        self.loopback_hosts = true;
        self
    }

    /// Whether any credential is required.
    pub fn is_enabled(&self) -> bool {
        self.basic.is_some() || self.token.is_some()
    }

    fn token_cookie(&self) -> Option<String> {
        self.token.as_deref().map(|t| hex(t.as_bytes()))
    }

    /// Whether `req` carries a valid credential, and whether it came in the
    /// query (then a cookie keeps it for the page's next requests).
    fn check(&self, req: &Request) -> (bool, bool) {
        let headers = req.headers();
        for v in headers.get_all(AUTHORIZATION) {
            let Ok(v) = v.to_str() else { continue };
            if self.basic.as_deref().is_some_and(|b| same(v.trim(), b)) {
                return (true, false);
            }
            if let (Some(t), Some(given)) = (&self.token, bearer(v))
                && same(given, t)
            {
                return (true, false);
            }
        }
        if let Some(want) = self.token_cookie() {
            let cookies = headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'));
            for c in cookies {
                if let Some((k, v)) = c.trim().split_once('=')
                    && k == COOKIE_NAME
                    && same(v, &want)
                {
                    return (true, false);
                }
            }
        }
        if let (Some(t), Some(q)) = (&self.token, req.uri().query()) {
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                if k == "token" && same(&v, t) {
                    return (true, true);
                }
            }
        }
        (false, false)
    }

    fn unauthorized(&self) -> Response {
        let mut resp = error(StatusCode::UNAUTHORIZED, "authentication required");
        let h = resp.headers_mut();
        if self.basic.is_some() {
            h.append(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"stampede\", charset=\"UTF-8\""),
            );
        }
        if self.token.is_some() {
            h.append(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"stampede\""),
            );
        }
        resp
    }
}

fn bearer(v: &str) -> Option<&str> {
    let (scheme, rest) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Equal, in time that depends only on the lengths.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding (RFC 4648), for the Basic value.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A state-changing request sent by another site's page: its `Origin` names
/// another host than the one it was sent to.
fn cross_origin(req: &Request) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let Some(origin) = req.headers().get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = req.headers().get(HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    origin_host.is_none() || origin_host != host
}

/// Whether a `Host` value names this machine's loopback: `localhost` (or a
/// name under it) or a loopback address, with or without a port.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(ip, _)| ip),
        None => match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        },
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The middleware: lets authenticated requests through, answers 401 otherwise.
pub async fn guard(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    if auth.loopback_hosts {
        let host = req.headers().get(HOST).and_then(|v| v.to_str().ok());
        if !host.is_some_and(loopback_host) {
            return error(
                StatusCode::FORBIDDEN,
                "this web ui listens on loopback and answers only to localhost",
            );
        }
    }
    if cross_origin(&req) {
        return error(StatusCode::FORBIDDEN, "cross-origin request refused");
    }
    if !auth.is_enabled() {
        return next.run(req).await;
    }
    match auth.check(&req) {
        (true, false) => next.run(req).await,
        (true, true) => {
            let cookie = auth.token_cookie().unwrap_or_default();
            let mut resp = next.run(req).await;
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{COOKIE_NAME}={cookie}; Path=/; HttpOnly; SameSite=Strict"
            )) {
                resp.headers_mut().append(SET_COOKIE, v);
            }
            resp
        }
        (false, _) => auth.unauthorized(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_told_from_others() {
        for host in [
            "localhost",
            "localhost:8089",
            "LOCALHOST.",
            "ui.localhost:1",
            "127.0.0.1:8089",
            "127.1.2.3",
            "[::1]:8089",
            "[::1]",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8089",
            "10.0.0.1:8089",
            "[2001:db8::1]:80",
            "localhost.evil.example",
            "",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("admin:s3cret", "YWRtaW46czNjcmV0"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
    }

    #[test]
    fn logins_and_tokens_are_checked() {
        assert!(Auth::new(Some("nopass"), None).is_err());
        assert!(Auth::new(Some(":x"), None).is_err());
        assert!(Auth::new(Some("u:"), None).is_err());
        assert!(Auth::new(None, Some("")).is_err());
        assert!(!Auth::none().is_enabled());
        let a = Auth::new(Some("u:p:w"), Some("t")).unwrap();
        assert_eq!(a.basic.as_deref(), Some("Basic dTpwOnc="));
        let req = |h: &str| {
            Request::builder()
                .uri("/api/stats")
                .header(AUTHORIZATION, h)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert_eq!(a.check(&req("Basic dTpwOnc=")), (true, false));
        assert_eq!(a.check(&req("bearer t")), (true, false));
        assert_eq!(a.check(&req("Bearer x")), (false, false));
        let q = Request::builder()
            .uri("/?token=t")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(a.check(&q), (true, true));
        let c = Request::builder()
            .uri("/")
            .header(COOKIE, "a=b; stampede_token=74")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(a.check(&c), (true, false));
    }

    #[test]
    fn other_sites_cannot_post() {
        let req = |origin: Option<&str>, method: Method| {
            let mut b = Request::builder()
                .method(method)
                .uri("/api/swarm")
                .header(HOST, "127.0.0.1:8089");
            if let Some(o) = origin {
                b = b.header(ORIGIN, o);
            }
            b.body(axum::body::Body::empty()).unwrap()
        };
        assert!(!cross_origin(&req(None, Method::POST)));
        assert!(!cross_origin(&req(
            Some("http://127.0.0.1:8089"),
            Method::POST
        )));
        assert!(cross_origin(&req(
            Some("https://evil.example"),
            Method::POST
        )));
        assert!(cross_origin(&req(Some("null"), Method::POST)));
        assert!(!cross_origin(&req(
            Some("https://evil.example"),
            Method::GET
        )));
    }
}
