//! The flags of how requests go on the wire: the HTTP version, shared
//! HTTP/2 connections, TLS resumption, the body limit and the proxy (the
//! proxy's also on `stampede worker`, which may set its own).

use clap::Args;
use stampede_common::run::{HttpVersion, NoProxy, ProxyUrl};

use super::values::byte_size;

/// HTTP version, connections, TLS and limits of the users' requests.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// HTTP version of requests whose scenario names none: auto (ALPN over
    /// TLS, so h2 where the server offers it; HTTP/1.1 in cleartext), 1.1,
    /// or 2 (ALPN h2 only over TLS, prior knowledge in cleartext).
    #[arg(
        long = "http-version",
        value_name = "VERSION",
        conflicts_with = "http2"
    )]
    pub http_version: Option<HttpVersion>,
    /// Same as --http-version 2.
    #[arg(long)]
    pub http2: bool,
    /// Users of each worker share N HTTP/2 connections per origin (h2load's
    /// -c) instead of one connection each; implies --http2 unless
    /// --http-version says otherwise.
    #[arg(long = "http2-connections", value_name = "N")]
    pub http2_connections: Option<std::num::NonZeroU32>,
    /// Users do not resume TLS sessions: every TLS handshake is a full one.
    #[arg(long = "no-tls-resumption")]
    pub no_tls_resumption: bool,
    /// Fail a request whose response body (as received, or decoded) is over
    /// this size, instead of reading it all: 64MiB by default; 10MB, 512KiB,
    /// 1GiB or a number of bytes.
    #[arg(long = "max-body-size", value_name = "SIZE", value_parser = byte_size)]
    pub max_body_size: Option<u64>,
    #[command(flatten)]
    pub proxy: ProxyArgs,
}

/// The proxy of the users' requests (the environment's otherwise).
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Send every request through this HTTP proxy, http://[user:password@]host:port
    /// (wins over the scenario's `proxy:` and over HTTP_PROXY/HTTPS_PROXY).
    #[arg(long, value_name = "URL")]
    pub proxy: Option<ProxyUrl>,
    /// Hosts reached without the proxy: `*`, or domains, addresses and CIDR
    /// blocks, comma-separated (wins over NO_PROXY).
    #[arg(long = "no-proxy", value_name = "HOSTS")]
    pub no_proxy: Option<NoProxy>,
}
