//! [`Session`]: one virtual user's browser-like state (cookie jar and parked
//! keep-alive connections) and the request loop around it: default headers,
//! cookies, redirects, connection reuse, the stale-connection retry and the
//! request's one deadline. The bytes on the wire are [`super::h1`]'s or
//! [`super::h2`]'s, on the user's own connections or on shared ones
//! ([`super::shared`]).

use bytes::Bytes;
use cookie_store::CookieStore;
use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE,
    TRANSFER_ENCODING,
};
use http::{HeaderMap, Method, StatusCode};
use stampede_common::run::HttpVersion;
use std::sync::Arc;
use tokio::time::Instant;
use url::Url;

use super::conn::{self, Connected, Origin, Stream, Target};
use super::h1::cookie_header;
use super::tls::{Alpn, UserTls};
use super::{
    ClientInner, HttpClient, HttpError, MAX_ORIGINS, Request, Response, body, h1, h2, shared,
};

/// One virtual user's browser-like session: cookie jar, keep-alive
/// connection(s) (one per origin; normally one), no shared state with other
/// sessions.
#[derive(Debug)]
pub struct Session {
    client: HttpClient,
    /// The user's index: its slot of the shared connections.
    index: u64,
    /// The local address its connections bind to.
    source: Option<std::net::IpAddr>,
    cookies: CookieStore,
    /// Parked connections, least recently used first.
    conns: Vec<Parked>,
    /// Its TLS session tickets.
    tls: UserTls,
}

#[derive(Debug)]
struct Parked {
    origin: Origin,
    conn: Conn,
}

impl Session {
    pub(super) fn new(client: HttpClient, index: u64, source: Option<std::net::IpAddr>) -> Self {
        Self {
            client,
            index,
            source,
            cookies: CookieStore::new(),
            conns: Vec::new(),
            tls: UserTls::default(),
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
            index,
            source,
            cookies,
            conns,
            tls,
        } = self;
        let client: &ClientInner = &client.inner;
        let Request {
            mut method,
            mut url,
            mut headers,
            mut body,
            follow_redirects,
            version,
            ..
        } = req;
        let version = version.unwrap_or(client.version);
        let mut redirects = 0u32;
        loop {
            let hop = Hop {
                method: &method,
                url: &url,
                headers: &headers,
                body: &body,
                version,
            };
            let link = Link {
                client,
                tls,
                source: *source,
            };
            let h1::Exchange {
                head, body: raw, ..
            } = round_trip(link, *index, conns, cookies, &hop).await?;
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
                let body = body::decode(&head.headers, raw, client.max_body)?;
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
    body: &'a Bytes,
    version: HttpVersion,
}

/// A parked connection of either protocol.
#[derive(Debug)]
enum Conn {
    /// `offered_h2`: made offering h2 by ALPN, and the server chose 1.1.
    H1 { stream: Stream, offered_h2: bool },
    /// Boxed: the `h2` crate's connection state is large.
    H2(Box<h2::Own>),
}

impl Conn {
    fn is_reusable(&mut self) -> bool {
        match self {
            Conn::H1 { stream, .. } => stream.is_reusable(),
            Conn::H2(c) => c.is_reusable(),
        }
    }

    /// Whether a request of `version` may go on it.
    fn fits(&self, version: HttpVersion, https: bool) -> bool {
        match self {
            // Over TLS, `auto` takes what ALPN gave it, not a 1.1 connection
            // a step pinned to "1.1" made.
            Conn::H1 { offered_h2, .. } => match version {
                HttpVersion::Http1 => true,
                HttpVersion::Auto => !https || *offered_h2,
                HttpVersion::Http2 => false,
            },
            Conn::H2(_) => may_be_h2(version, https),
        }
    }
}

/// Whether a request of `version` to an http(s) origin may go over HTTP/2:
/// when asked for, or by ALPN over TLS.
fn may_be_h2(version: HttpVersion, https: bool) -> bool {
    version == HttpVersion::Http2 || (version == HttpVersion::Auto && https)
}

/// What a session connects with.
struct Link<'a> {
    client: &'a ClientInner,
    tls: &'a mut UserTls,
    source: Option<std::net::IpAddr>,
}

/// Sends one hop on a parked or new connection (or a shared one), retrying
/// once on a new connection when a reused one fails before any response.
async fn round_trip(
    mut link: Link<'_>,
    index: u64,
    conns: &mut Vec<Parked>,
    cookies: &CookieStore,
    hop: &Hop<'_>,
) -> Result<h1::Exchange, HttpError> {
    let client = link.client;
    let target = Target::from_url(hop.url)?;
    let proxy = client.proxies.for_target(target.https, target.host_str);
    let out = h1::Outgoing {
        method: hop.method,
        url: hop.url,
        headers: hop.headers,
        body: hop.body,
        user_agent: &client.user_agent,
        cookies,
        max_body: client.max_body,
        // Plain HTTP/1.1 goes to the proxy in absolute form; the rest tunnels.
        via_proxy: proxy
            .filter(|_| !target.https && hop.version != HttpVersion::Http2)
            .map(|(_, auth)| auth),
    };
    if let Some(pool) = &client.shared
        && may_be_h2(hop.version, target.https)
    {
        return shared_round_trip(pool, link, index, &target, &out, hop).await;
    }
    // A connection of the origin that fits the version (an origin may have
    // one of each protocol parked when steps pin different versions).
    let parked = conns
        .iter()
        .position(|p| p.origin.is(&target) && p.conn.fits(hop.version, target.https))
        .map(|i| conns.remove(i));
    let (origin, mut conn, mut reused) = match parked {
        Some(mut p) => {
            if p.conn.is_reusable() {
                (p.origin, p.conn, true)
            } else {
                drop(p.conn);
                (
                    p.origin,
                    connect(&mut link, &target, hop.version).await?,
                    false,
                )
            }
        }
        None => (
            Origin::of(&target),
            connect(&mut link, &target, hop.version).await?,
            false,
        ),
    };
    loop {
        let mut got_bytes = false;
        let result = match &mut conn {
            Conn::H1 { stream, .. } => h1::exchange(stream, &out, &mut got_bytes).await,
            Conn::H2(own) => own.exchange(&out, hop.body, &mut got_bytes).await,
        };
        match result {
            Ok(ex) => {
                if ex.reusable {
                    if conns.len() >= MAX_ORIGINS {
                        conns.remove(0);
                    }
                    conns.push(Parked { origin, conn });
                }
                return Ok(ex);
            }
            Err(e) if reused && !got_bytes => {
                tracing::debug!(error = %e, "reused connection failed before a response, retrying on a new one");
                conn = connect(&mut link, &target, hop.version).await?;
                reused = false;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One hop on the shared HTTP/2 connection of the user's slot.
async fn shared_round_trip(
    pool: &shared::Pool,
    link: Link<'_>,
    index: u64,
    target: &Target<'_>,
    out: &h1::Outgoing<'_>,
    hop: &Hop<'_>,
) -> Result<h1::Exchange, HttpError> {
    let client = link.client;
    let source = link.source;
    let connect = async || {
        let how = how(client, target, hop.version, source, |alpn| {
            Arc::clone(client.tls.shared(alpn))
        });
        let connected = Box::pin(conn::connect(target, how)).await?;
        let stream = h2_stream(connected, target)?;
        let (send, driver) = h2::handshake(stream).await?;
        tokio::spawn(async move {
            if let Err(e) = driver.await {
                tracing::debug!(error = %e, "shared http/2 connection ended");
            }
        });
        Ok(send)
    };
    let mut fresh = false;
    loop {
        let mut lease = pool.lease(target, index, connect).await?;
        let mut got_bytes = false;
        match h2::exchange(&mut lease.send, out, hop.body, &mut got_bytes).await {
            Ok(ex) => return Ok(ex),
            Err(e) if !got_bytes && !fresh => {
                tracing::debug!(error = %e, "shared connection failed before a response, retrying on a new one");
                lease.discard().await;
                fresh = true;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The connection settings of a request of `version` to `target`; `tls`
/// gives the config of an ALPN offer.
fn how<'a>(
    client: &'a ClientInner,
    target: &Target<'_>,
    version: HttpVersion,
    source: Option<std::net::IpAddr>,
    tls: impl FnOnce(Alpn) -> Arc<rustls::ClientConfig>,
) -> conn::How<'a> {
    let alpn = match version {
        HttpVersion::Http1 => Alpn::Http1,
        HttpVersion::Auto => Alpn::Either,
        HttpVersion::Http2 => Alpn::H2,
    };
    let prior_knowledge = !target.https && version == HttpVersion::Http2;
    conn::How {
        tls: target.https.then(|| tls(alpn)),
        limit: client.connect_timeout,
        network: &client.network,
        resolver: &client.resolver,
        source,
        proxy: client.proxies.for_target(target.https, target.host_str),
        tunnel: target.https || prior_knowledge,
    }
}

/// The stream of an HTTP/2 connection: TLS that agreed on h2, or cleartext
/// (prior knowledge).
fn h2_stream(connected: Connected, target: &Target<'_>) -> Result<Stream, HttpError> {
    if target.https && !connected.h2 {
        return Err(HttpError::Http2(conn::NO_H2_BY_ALPN.into()));
    }
    Ok(connected.stream)
}

/// A new connection of the user for a request of `version`, with the
/// user's own TLS tickets. Boxed: connecting (DNS, TLS handshake) has a
/// large state, needed only for a new connection; it would otherwise make
/// every request's future larger.
async fn connect(
    link: &mut Link<'_>,
    target: &Target<'_>,
    version: HttpVersion,
) -> Result<Conn, HttpError> {
    let client = link.client;
    let user_tls = &mut *link.tls;
    let how = how(client, target, version, link.source, |alpn| {
        user_tls.config(&client.tls, alpn)
    });
    let connected = Box::pin(conn::connect(target, how)).await?;
    if connected.h2 || version == HttpVersion::Http2 {
        let stream = h2_stream(connected, target)?;
        return Ok(Conn::H2(Box::new(
            Box::pin(h2::Own::handshake(stream)).await?,
        )));
    }
    Ok(Conn::H1 {
        stream: connected.stream,
        offered_h2: target.https && version == HttpVersion::Auto,
    })
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
