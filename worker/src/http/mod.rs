//! The per-virtual-user HTTP session: the engine's hot path.
//!
//! This module owns the HTTP client the virtual users speak through: one
//! [`HttpClient`] per worker (TLS config and options, shared behind an `Arc`)
//! and one [`Session`] per virtual user, with its own cookie jar and its own
//! keep-alive connection(s), sharing nothing mutable with other sessions.
//!
//! # Design: parked sockets and an own HTTP/1.1 exchange
//!
//! A worker runs tens of thousands of sessions that are idle most of the time
//! (waiting between tasks), so what an idle session costs matters as much as
//! per-request CPU. Between requests a session keeps only the bare socket
//! (`TcpStream`, or a boxed `tokio_rustls` stream for https) in a tiny pool
//! (`conn`). A request is one exchange on a borrowed socket (`h1`): the
//! request head (and a small body) is encoded into one buffer and written
//! with one write, the response is parsed with `httparse` from the same
//! buffer, and the body is read as it is framed. The buffer comes from a
//! per-thread pool and goes back to it after the exchange, so a busy user
//! reuses a warm buffer and a parked connection holds none. There is no
//! per-request connection state to build (the engine used to build hyper's
//! HTTP/1 client state and buffers on the socket for every request and drop
//! them after it), nothing is spawned, and the whole request, redirects
//! included, runs under one deadline. An idle user costs 3.5-4 kB of process
//! RSS, its task and scenario state included (docs/BENCHMARKS.md).
//!
//! # Behaviour
//!
//! - http and https. TLS is rustls with ring, SNI from the URL host, system
//!   roots (rustls-native-certs) plus an optional extra CA; `insecure`
//!   accepts any certificate but still checks handshake signatures. Each
//!   user keeps its own TLS session tickets and resumes with them when it
//!   reconnects (unless resumption is off), as a browser does (`tls`).
//! - HTTP/1.1 and HTTP/2, one session type over both (`h1`, `h2`): a
//!   request's version is its step's, its class's or the run's
//!   ([`HttpVersion`]); `auto` lets ALPN pick over TLS (h2, as browsers
//!   get) and is HTTP/1.1 in cleartext; `2` is ALPN `h2` only over TLS and
//!   prior knowledge (h2c) in cleartext. A user's HTTP/2 connection is its
//!   own, parked between requests like an HTTP/1.1 socket, unless the run
//!   shares few connections among all users (`shared`).
//! - Proxies (`proxy`): `http://` targets through the proxy in absolute
//!   form, `https://` ones (and h2c) through a CONNECT tunnel, with basic
//!   credentials; `NO_PROXY` hosts directly.
//! - Names are looked up once per refresh interval (`dns`).
//! - Addresses: a host override (`--resolve host:port:addr`) connects to the
//!   given address with the URL's name kept for Host and SNI; a session made
//!   for a user with source addresses set binds its connections to one.
//! - Default headers (`Host`, `User-Agent`, `Accept-Encoding: gzip`,
//!   `Content-Length` for bodies and for POST/PUT/PATCH); a header the caller
//!   set wins, including `Cookie` (then the jar is not consulted for it).
//!   gzip and deflate bodies are decoded; the response headers are left as
//!   received, and `content_length` is the decoded size.
//! - Cookies: a `cookie_store::CookieStore` per session; `Set-Cookie` is
//!   stored from every response, redirects included.
//! - Redirects are followed up to `max_redirects` (default 10; Locust's
//!   FastHttpUser allows 30, requests 30 as well: 10 catches loops sooner and
//!   is plenty for real sites). 301/302/303 turn into a body-less GET (HEAD
//!   stays HEAD); 307/308 keep method and body. A redirect to another host
//!   drops the caller's `Authorization`, `Cookie` and `Host` headers.
//! - Keep-alive: one connection per origin (one of each protocol when steps
//!   pin different versions), at most [`MAX_ORIGINS`] parked per session
//!   (the least recently used is closed). A parked socket is
//!   checked before reuse (EOF, error or unsolicited bytes mean it is
//!   dropped); `Connection: close` from either side is honoured. A request
//!   that fails on a reused connection before any response byte arrived is
//!   retried once on a new connection (the server may have closed the idle
//!   connection while the request was in flight). Like requests/urllib3 and
//!   hence Locust, this retries non-idempotent requests too: a server that
//!   closed without answering cannot have sent a response, but it may in
//!   rare cases have acted on the request.
//! - Responses: `Content-Length`, `Transfer-Encoding: chunked` (trailers
//!   skipped) or bodies delimited by the connection's close; none for HEAD,
//!   204, 304 and 1xx; interim 1xx responses (`100 Continue`) are skipped.
//!   A request with `Expect: 100-continue` and a body waits up to 1 s for
//!   the `100 Continue` before it sends the body (as curl); a final response
//!   first (a refusal) means the body is not sent and the connection closes.
//!   HTTP/1.0 responses keep the connection only with `Connection:
//!   keep-alive`. Bytes beyond the response (pipelining is not used) drop the
//!   connection. A response head over 64 KiB is an error, as is a malformed
//!   response ([`HttpError::Protocol`]) or a body cut short by the server's
//!   close ([`HttpError::ConnectionClosed`]).
//! - A response body over the limit (`max_body`, 64 MiB by default),
//!   received or decoded, fails the request ([`HttpError::BodyTooLarge`])
//!   without reading the rest: memory per user stays bounded whatever a
//!   server sends.
//! - `Request::timeout` covers connect, sending, the response and the whole
//!   body, across redirects (one deadline per request); without it only
//!   `connect_timeout` applies.

pub(crate) mod body;
mod conn;
mod dns;
mod error;
pub(crate) mod h1;
mod h2;
mod proxy;
mod session;
mod shared;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use stampede_common::run::{HttpSettings, HttpVersion, NetworkSettings, ProxySettings, ProxyUrl};
use url::Url;

pub use error::HttpError;
pub use session::Session;

/// How many origins a session keeps a connection to; the least recently used
/// one is closed beyond that.
pub const MAX_ORIGINS: usize = 4;

/// Options shared by all sessions of a worker.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Accept any server certificate (handshake signatures are still checked).
    pub insecure: bool,
    /// Extra CA certificate(s), PEM, trusted besides the system roots.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Limit for DNS + TCP connect + TLS handshake.
    pub connect_timeout: Duration,
    /// Redirects followed before [`HttpError::TooManyRedirects`].
    pub max_redirects: u32,
    /// Default `User-Agent` header.
    pub user_agent: String,
    /// Host overrides and source addresses.
    pub network: NetworkSettings,
    /// HTTP version, shared connections, TLS resumption, proxies.
    pub http: HttpSettings,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            insecure: false,
            ca_cert_pem: None,
            connect_timeout: Duration::from_secs(10),
            max_redirects: 10,
            user_agent: concat!("stampede/", env!("CARGO_PKG_VERSION")).to_owned(),
            network: NetworkSettings::default(),
            http: HttpSettings::default(),
        }
    }
}

/// Shared by all sessions of a worker; built once, cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    tls: tls::Configs,
    connect_timeout: Duration,
    max_redirects: u32,
    user_agent: HeaderValue,
    network: NetworkSettings,
    /// Of requests that name none.
    version: HttpVersion,
    /// The largest response body read (received and decoded).
    max_body: u64,
    proxies: Proxies,
    resolver: dns::Resolver,
    /// The shared HTTP/2 connections, when users share them.
    shared: Option<shared::Pool>,
}

/// The run's proxies, with their `Proxy-Authorization` values.
#[derive(Debug)]
struct Proxies {
    settings: ProxySettings,
    http_auth: Option<HeaderValue>,
    https_auth: Option<HeaderValue>,
}

impl Proxies {
    /// The proxy of a request to `host` over http(s), and its credentials.
    fn for_target(&self, https: bool, host: &str) -> Option<(&ProxyUrl, Option<&HeaderValue>)> {
        let auth = if https {
            &self.https_auth
        } else {
            &self.http_auth
        };
        self.settings
            .for_target(https, host)
            .map(|p| (p, auth.as_ref()))
    }
}

impl HttpClient {
    /// Builds the shared TLS configuration and options.
    ///
    /// # Errors
    ///
    /// [`HttpError::Config`] for an unusable `ca_cert_pem` or `user_agent`.
    /// Missing system roots are not an error (https then fails per request).
    pub fn new(opts: ClientOptions) -> Result<Self, HttpError> {
        let tls = tls::Configs::new(
            opts.insecure,
            opts.ca_cert_pem.as_deref(),
            opts.http.tls_resumption,
        )?;
        let user_agent = HeaderValue::from_str(&opts.user_agent)
            .map_err(|_| HttpError::Config(format!("invalid user agent `{}`", opts.user_agent)))?;
        let proxy = opts.http.proxy;
        Ok(Self {
            inner: Arc::new(ClientInner {
                tls,
                connect_timeout: opts.connect_timeout,
                max_redirects: opts.max_redirects,
                user_agent,
                network: opts.network,
                version: opts.http.version,
                max_body: opts.http.max_body,
                proxies: Proxies {
                    http_auth: proxy.http.as_ref().and_then(proxy::authorization),
                    https_auth: proxy.https.as_ref().and_then(proxy::authorization),
                    settings: proxy,
                },
                resolver: dns::Resolver::default(),
                shared: opts.http.h2_connections.map(shared::Pool::new),
            }),
        })
    }

    /// A new, empty session (no cookies, no connection yet).
    pub fn session(&self) -> Session {
        Session::new(self.clone(), 0, None)
    }

    /// A session for user `index`: its connections bind to the source
    /// address the user's index picks, if any are set, and it sends on the
    /// shared connection its index picks, if users share them.
    pub fn session_for(&self, index: u64) -> Session {
        Session::new(self.clone(), index, self.inner.network.source_for(index))
    }
}

/// One request as the engine describes it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    /// Caller headers; they win over the session's defaults.
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Limit for the whole request (connect, response, body, redirects).
    pub timeout: Option<Duration>,
    /// Follow 3xx responses that have a `Location` (default true).
    pub follow_redirects: bool,
    /// The HTTP version; the client's when `None`.
    pub version: Option<HttpVersion>,
}

impl Request {
    /// A request without headers, body or timeout that follows redirects.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: None,
            follow_redirects: true,
            version: None,
        }
    }

    /// `GET url`.
    pub fn get(url: Url) -> Self {
        Self::new(Method::GET, url)
    }
}

/// A complete response (the body has been read and decoded).
#[derive(Clone, Debug)]
pub struct Response {
    pub status: StatusCode,
    /// Headers as received (including `Content-Encoding`).
    pub headers: HeaderMap,
    /// The decoded body.
    pub body: Bytes,
    /// The decoded body's length: what Locust reports as content size.
    pub content_length: u64,
    /// The final URL, after redirects.
    pub url: Url,
    /// How many redirects were followed.
    pub redirects: u32,
}
