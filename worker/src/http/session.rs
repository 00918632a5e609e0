//! [`Session`]: one virtual user's browser-like state (cookie jar and parked
//! keep-alive connections) and the request loop around it: default headers,
//! cookies, redirects, connection reuse, the stale-connection retry and the
//! request's one deadline. The bytes on the wire are [`super::h1`]'s.

use bytes::Bytes;
use cookie_store::CookieStore;
use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE,
    TRANSFER_ENCODING,
};
use http::{HeaderMap, Method, StatusCode};
use tokio::time::Instant;
use url::Url;

use super::conn::{self, Origin, Stream, Target};
use super::{ClientInner, HttpClient, HttpError, MAX_ORIGINS, Request, Response, body, h1};

/// One virtual user's browser-like session: cookie jar, keep-alive
/// connection(s) (one per origin; normally one), no shared state with other
/// sessions.
#[derive(Debug)]
pub struct Session {
    client: HttpClient,
    /// The local address its connections bind to.
    source: Option<std::net::IpAddr>,
    cookies: CookieStore,
    /// Parked connections, least recently used first.
    conns: Vec<Parked>,
}

#[derive(Debug)]
struct Parked {
    origin: Origin,
    stream: Stream,
}

impl Session {
    pub(super) fn new(client: HttpClient, source: Option<std::net::IpAddr>) -> Self {
        Self {
            client,
            source,
            cookies: CookieStore::new(),
            conns: Vec::new(),
        }
    }

    /// Sends `req`, following redirects unless told not to, and reads and
    /// decodes the whole response body.
    ///
    /// # Errors
    ///
    /// See [`HttpError`]; an HTTP error status is a response, not an error.
    pub async fn send(&mut self, req: Request) -> Result<Response, HttpError> {
        // One deadline for the whole request, redirects included.
        match req.timeout {
            Some(limit) => tokio::time::timeout_at(Instant::now() + limit, self.follow(req))
                .await
                .unwrap_or(Err(HttpError::Timeout(limit))),
            None => self.follow(req).await,
        }
    }

    /// Closes every connection (the user stopped). Cookies are kept.
    pub fn close(&mut self) {
        self.conns = Vec::new();
    }

    /// Forgets every cookie.
    pub fn clear_cookies(&mut self) {
        self.cookies.clear();
    }

    /// The `Cookie` header this session would send to `url`, if any.
    pub fn cookie_header_for(&self, url: &Url) -> Option<String> {
        cookie_header(&self.cookies, url)
    }

    async fn follow(&mut self, req: Request) -> Result<Response, HttpError> {
        let Session {
            client,
            source,
            cookies,
            conns,
        } = self;
        let source = *source;
        let client: &ClientInner = &client.inner;
        let Request {
            mut method,
            mut url,
            mut headers,
            mut body,
            follow_redirects,
            ..
        } = req;
        let mut redirects = 0u32;
        loop {
            let hop = Hop {
                method: &method,
                url: &url,
                headers: &headers,
                body: &body,
            };
            let h1::Exchange {
                head, body: raw, ..
            } = round_trip(client, source, conns, cookies, &hop).await?;
            for value in head.headers.get_all(SET_COOKIE) {
                if let Ok(text) = value.to_str() {
                    // A cookie the jar rejects (bad domain, ...) is skipped, as browsers do.
                    let _ = cookies.parse(text, &url);
                }
            }
            let next = if follow_redirects && is_redirect(head.status) {
                next_url(&url, &head.headers)?
            } else {
                None
            };
            let Some(next) = next else {
                let body = body::decode(&head.headers, raw)?;
                return Ok(Response {
                    status: head.status,
                    headers: head.headers,
                    content_length: body.len() as u64,
                    body,
                    url,
                    redirects,
                });
            };
            if redirects >= client.max_redirects {
                return Err(HttpError::TooManyRedirects(client.max_redirects));
            }
            redirects += 1;
            let to_get = matches!(
                head.status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER
            );
            if to_get && method != Method::HEAD {
                method = Method::GET;
                body = Bytes::new();
                for name in [CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING] {
                    headers.remove(name);
                }
            }
            if next.host_str() != url.host_str() {
                for name in [AUTHORIZATION, COOKIE, HOST] {
                    headers.remove(name);
                }
            }
            url = next;
        }
    }
}

/// One request of a (possibly redirected) exchange.
struct Hop<'a> {
    method: &'a Method,
    url: &'a Url,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

/// Sends one hop on a parked or new connection, retrying once on a new
/// connection when a reused one fails before any response byte.
async fn round_trip(
    client: &ClientInner,
    source: Option<std::net::IpAddr>,
    conns: &mut Vec<Parked>,
    cookies: &CookieStore,
    hop: &Hop<'_>,
) -> Result<h1::Exchange, HttpError> {
    let target = Target::from_url(hop.url)?;
    let parked = conns
        .iter()
        .position(|p| p.origin.is(&target))
        .map(|i| conns.remove(i));
    let (origin, mut stream, mut reused) = match parked {
        Some(mut p) => {
            if p.stream.is_reusable() {
                (p.origin, p.stream, true)
            } else {
                drop(p.stream);
                (p.origin, connect(client, &target, source).await?, false)
            }
        }
        None => (
            Origin::of(&target),
            connect(client, &target, source).await?,
            false,
        ),
    };
    let out = h1::Outgoing {
        method: hop.method,
        url: hop.url,
        headers: hop.headers,
        body: hop.body,
        user_agent: &client.user_agent,
        cookies,
    };
    loop {
        let mut got_bytes = false;
        match h1::exchange(&mut stream, &out, &mut got_bytes).await {
            Ok(ex) => {
                if ex.reusable {
                    if conns.len() >= MAX_ORIGINS {
                        conns.remove(0);
                    }
                    conns.push(Parked { origin, stream });
                }
                return Ok(ex);
            }
            Err(e) if reused && !got_bytes => {
                tracing::debug!(error = %e, "reused connection failed before a response, retrying on a new one");
                stream = connect(client, &target, source).await?;
                reused = false;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Boxed: connecting (DNS, TLS handshake) has a large state, needed only for
/// a new connection; it would otherwise make every request's future larger.
async fn connect(
    client: &ClientInner,
    target: &Target<'_>,
    source: Option<std::net::IpAddr>,
) -> Result<Stream, HttpError> {
    let how = conn::How {
        tls: &client.tls,
        limit: client.connect_timeout,
        network: &client.network,
        source,
    };
    Box::pin(conn::connect(target, how)).await
}

fn cookie_header(cookies: &CookieStore, url: &Url) -> Option<String> {
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

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The redirect target, or `None` when the 3xx has no `Location`.
fn next_url(current: &Url, headers: &HeaderMap) -> Result<Option<Url>, HttpError> {
    let Some(location) = headers.get(LOCATION) else {
        return Ok(None);
    };
    let text = location
        .to_str()
        .map_err(|_| HttpError::InvalidUrl("redirect location is not ascii".into()))?;
    current
        .join(text)
        .map(Some)
        .map_err(|e| HttpError::InvalidUrl(format!("redirect location `{text}`: {e}")))
}
