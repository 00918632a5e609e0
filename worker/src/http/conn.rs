//! One origin's connection: DNS + TCP connect (TCP_NODELAY, from a source
//! address when set), a proxy's CONNECT tunnel when asked, and TLS with the
//! ALPN offer the caller chose; the socket type a session parks between
//! requests ([`Stream`], plain or TLS) and the liveness check of a parked
//! socket before it is reused. The exchanges on it are [`super::h1`]'s and
//! [`super::h2`]'s.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::HeaderValue;
use rustls::pki_types::ServerName;
use stampede_common::run::{NetworkSettings, ProxyUrl};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use url::{Host, Url};

use super::HttpError;
use super::dns::Resolver;

/// Where a request goes: scheme, host and port of its URL.
#[derive(Debug)]
pub(crate) struct Target<'a> {
    pub https: bool,
    pub host: Host<&'a str>,
    /// `url.host_str()`: the pool key (IPv6 in brackets).
    pub host_str: &'a str,
    pub port: u16,
}

impl<'a> Target<'a> {
    pub fn from_url(url: &'a Url) -> Result<Self, HttpError> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(HttpError::UnsupportedScheme(other.to_owned())),
        };
        let (Some(host), Some(host_str)) = (url.host(), url.host_str()) else {
            return Err(HttpError::InvalidUrl(format!("missing host in `{url}`")));
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        Ok(Self {
            https,
            host,
            host_str,
            port,
        })
    }
}

/// The pool key of a parked connection.
#[derive(Debug)]
pub(crate) struct Origin {
    https: bool,
    port: u16,
    host: Box<str>,
}

impl Origin {
    pub fn of(t: &Target<'_>) -> Self {
        Self {
            https: t.https,
            port: t.port,
            host: t.host_str.into(),
        }
    }

    pub fn is(&self, t: &Target<'_>) -> bool {
        self.https == t.https && self.port == t.port && &*self.host == t.host_str
    }
}

/// A connected socket, plain or TLS. The TLS state is boxed so a pool slot
/// stays small.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// How a session connects.
pub(crate) struct How<'a> {
    /// For https: the config (and so the ALPN offer) of the handshake.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// DNS + TCP connect + proxy tunnel + TLS handshake.
    pub limit: Duration,
    /// Host overrides.
    pub network: &'a NetworkSettings,
    pub resolver: &'a Resolver,
    /// The local address to bind to.
    pub source: Option<IpAddr>,
    /// The proxy to connect to instead of the target, with its
    /// `Proxy-Authorization`.
    pub proxy: Option<(&'a ProxyUrl, Option<&'a HeaderValue>)>,
    /// Through the proxy, ask for a CONNECT tunnel to the target.
    pub tunnel: bool,
}

/// A server that was offered only h2 by ALPN and took none (or refused).
pub(crate) const NO_H2_BY_ALPN: &str =
    "the server did not agree to http/2 in the tls handshake (alpn)";

/// A new connection, and whether TLS agreed on `h2` by ALPN.
#[derive(Debug)]
pub(crate) struct Connected {
    pub stream: Stream,
    pub h2: bool,
}

/// Resolves (or takes the host override), connects (from the source address,
/// if any; to the proxy, if any, tunnelling when asked) and for https runs
/// the TLS handshake with the URL's name, all within `how.limit`.
pub(crate) async fn connect(target: &Target<'_>, how: How<'_>) -> Result<Connected, HttpError> {
    let limit = how.limit;
    let work = async {
        let mut tcp = match how.proxy {
            Some((proxy, _)) => connect_tcp(&proxy.host, proxy.port, &how).await?,
            None => connect_tcp(target.host_str, target.port, &how).await?,
        };
        if let (Some((_, auth)), true) = (how.proxy, how.tunnel) {
            let authority = format!("{}:{}", target.host_str, target.port);
            super::proxy::tunnel(&mut tcp, &authority, auth).await?;
        }
        let Some(tls) = how.tls else {
            return Ok(Connected {
                stream: Stream::Plain(tcp),
                h2: false,
            });
        };
        let name = match target.host {
            Host::Domain(d) => ServerName::try_from(d.to_owned())
                .map_err(|e| HttpError::InvalidUrl(format!("host `{d}`: {e}")))?,
            Host::Ipv4(ip) => ServerName::IpAddress(std::net::IpAddr::V4(ip).into()),
            Host::Ipv6(ip) => ServerName::IpAddress(std::net::IpAddr::V6(ip).into()),
        };
        let h2_only = tls.alpn_protocols == [b"h2".to_vec()];
        let tls = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| {
                let no_protocol = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>())
                    == Some(&rustls::Error::AlertReceived(
                        rustls::AlertDescription::NoApplicationProtocol,
                    ));
                match HttpError::from_io(&e) {
                    _ if no_protocol && h2_only => HttpError::Http2(NO_H2_BY_ALPN.into()),
                    err @ (HttpError::Tls(_) | HttpError::ConnectionReset) => err,
                    _ => HttpError::Tls(e.to_string()),
                }
            })?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok(Connected {
            stream: Stream::Tls(Box::new(tls)),
            h2,
        })
    };
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(HttpError::ConnectTimeout(limit)))
}

/// A TCP connection to `host:port` (an IPv6 `host` with or without brackets).
async fn connect_tcp(host: &str, port: u16, how: &How<'_>) -> Result<TcpStream, HttpError> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Arc<[SocketAddr]> = match (how.network.resolved(host, port), literal.parse()) {
        (Some(ip), _) | (None, Ok(ip)) => Arc::new([SocketAddr::new(ip, port)]),
        (None, Err(_)) => how.resolver.lookup(host, port).await?,
    };
    let mut last = HttpError::Dns(format!("no address found for `{host}`"));
    for &addr in addrs.iter() {
        match open(addr, how.source).await {
            Ok(tcp) => {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
                return Ok(tcp);
            }
            Err(e) => last = HttpError::from_io(&e),
        }
    }
    Err(last)
}

/// A TCP connection to `addr`, bound to `source` first if given.
async fn open(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect(addr).await;
    };
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

impl Stream {
    /// A parked connection can be reused when reading from it would block:
    /// no EOF (the server closed its idle keep-alive), no error, and no
    /// unsolicited bytes. TLS records that carry no data (session tickets) are
    /// consumed here; a close_notify reads as EOF.
    pub fn is_reusable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        Pin::new(self).poll_read(&mut cx, &mut buf).is_pending()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
