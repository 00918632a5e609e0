//! How a run's requests go on the wire: the HTTP version ([`HttpVersion`]:
//! ALPN over TLS, HTTP/1.1 in cleartext, or HTTP/2 by prior knowledge),
//! users sharing few HTTP/2 connections instead of one each, TLS session
//! resumption, and the proxies ([`ProxySettings`], from `--proxy`, the
//! scenario's `proxy:` or the environment's `HTTP_PROXY`, `HTTPS_PROXY` and
//! `NO_PROXY`).

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;

use url::Url;

/// Which HTTP version a request speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// Over TLS, what ALPN agrees (h2 when the server offers it, as a
    /// browser does); HTTP/1.1 in cleartext.
    #[default]
    Auto,
    /// HTTP/1.1 only (ALPN offers `http/1.1` alone).
    Http1,
    /// HTTP/2 only: ALPN `h2` over TLS, prior knowledge (h2c) in cleartext.
    Http2,
}

impl FromStr for HttpVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "1.1" | "1" | "http/1.1" => Ok(Self::Http1),
            "2" | "2.0" | "h2" | "http/2" => Ok(Self::Http2),
            _ => Err(format!(
                "unknown http version `{s}` (expected auto, \"1.1\" or \"2\")"
            )),
        }
    }
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Http1 => "1.1",
            Self::Http2 => "2",
        })
    }
}

/// The default limit of a response body: 64 MiB.
pub const DEFAULT_MAX_BODY: u64 = 64 << 20;

/// The run's HTTP settings, shipped to every worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// The version of requests whose step, class and scenario name none.
    pub version: HttpVersion,
    /// Users of a worker share this many HTTP/2 connections per origin
    /// (h2load's `-c`) instead of holding one each.
    pub h2_connections: Option<NonZeroU32>,
    /// Each user keeps its TLS session tickets and resumes with them.
    pub tls_resumption: bool,
    /// The largest response body read (as received, and decoded): a bigger
    /// one fails its request instead of filling the worker's memory.
    pub max_body: u64,
    /// Where requests go through a proxy.
    pub proxy: ProxySettings,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            version: HttpVersion::Auto,
            h2_connections: None,
            tls_resumption: true,
            max_body: DEFAULT_MAX_BODY,
            proxy: ProxySettings::default(),
        }
    }
}

/// The proxies of http and https targets, and the hosts that bypass them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// The proxy of `http://` targets (requests in absolute form).
    pub http: Option<ProxyUrl>,
    /// The proxy of `https://` targets (a CONNECT tunnel).
    pub https: Option<ProxyUrl>,
    /// Hosts reached directly.
    pub no_proxy: NoProxy,
}

impl ProxySettings {
    /// One proxy for every target (`--proxy URL`, the scenario's `proxy:`).
    pub fn all(url: ProxyUrl) -> Self {
        Self {
            http: Some(url.clone()),
            https: Some(url),
            no_proxy: NoProxy::default(),
        }
    }

    /// From the environment as curl and Python's requests read it:
    /// `http_proxy`, `https_proxy`, `no_proxy`, lowercase first, then
    /// uppercase. `get` looks a variable up.
    ///
    /// # Errors
    ///
    /// A set variable whose value is not a usable proxy URL, naming it.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let url = |name: &str| {
            env_var(&get, name)
                .map(|(n, v)| v.parse::<ProxyUrl>().map_err(|e| format!("{n}: {e}")))
                .transpose()
        };
        Ok(Self {
            http: url("http_proxy")?,
            https: url("https_proxy")?,
            no_proxy: NoProxy::from_env(&get)?,
        })
    }

    /// Whether any proxy is set.
    pub fn is_set(&self) -> bool {
        self.http.is_some() || self.https.is_some()
    }

    /// The proxy a request to `host` over http(s) goes through, if any.
    pub fn for_target(&self, https: bool, host: &str) -> Option<&ProxyUrl> {
        let proxy = if https { &self.https } else { &self.http };
        proxy.as_ref().filter(|_| !self.no_proxy.bypasses(host))
    }
}

/// An `http://[user:password@]host[:port]` proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// The proxy's host name or address (IPv6 without brackets).
    pub host: String,
    /// Its port (80 when the URL names none).
    pub port: u16,
    /// `Proxy-Authorization` credentials: the percent-decoded
    /// `user:password`.
    pub credentials: Option<String>,
    text: String,
}

impl FromStr for ProxyUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let full = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let url = Url::parse(&full).map_err(|e| format!("invalid proxy url `{text}`: {e}"))?;
        if url.scheme() != "http" {
            return Err(format!(
                "proxy `{text}`: only http:// proxies are supported (https targets go through them in a CONNECT tunnel)"
            ));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(h) => h.to_string(),
            None => return Err(format!("proxy `{text}` has no host")),
        };
        let decode = |part: &str| {
            percent_decode(part).ok_or_else(|| format!("proxy `{text}`: credentials are not utf-8"))
        };
        let credentials = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            Some(format!(
                "{}:{}",
                decode(url.username())?,
                decode(url.password().unwrap_or(""))?
            ))
        };
        Ok(Self {
            host,
            port: url.port_or_known_default().unwrap_or(80),
            credentials,
            text: text.to_owned(),
        })
    }
}

impl fmt::Display for ProxyUrl {
    /// The URL as written (credentials included: this is the wire form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&a), Some(&b)) if hex(a).is_some() && hex(b).is_some() => {
                out.push((hex(a)? * 16 + hex(b)?) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `NO_PROXY`: `*`, or a comma list of domains (a domain covers its
/// subdomains; a leading `.` or `*.` is the same), addresses and CIDR
/// blocks (`127.0.0.0/8`); a `:port` suffix is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    domains: Vec<String>,
    blocks: Vec<(IpAddr, u8)>,
    text: String,
}

/// The variable `name` (lowercase) or its uppercase twin, when set and not
/// blank, with the name it was found under.
fn env_var(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<(String, String)> {
    get(name)
        .or_else(|| get(&name.to_ascii_uppercase()))
        .filter(|v| !v.trim().is_empty())
        .map(|v| (name.to_ascii_uppercase(), v))
}

impl NoProxy {
    /// `no_proxy`, else `NO_PROXY`, from the environment `get` reads.
    ///
    /// # Errors
    ///
    /// An entry that is not a host, address or block.
    pub fn from_env(get: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        env_var(get, "no_proxy").map_or(Ok(Self::default()), |(_, v)| v.parse())
    }

    /// Whether `host` (a name, or an address with or without brackets) is
    /// reached directly.
    pub fn bypasses(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self
                .blocks
                .iter()
                .any(|(net, bits)| in_block(ip, *net, *bits));
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().any(|d| {
            host == *d
                || (host.ends_with(d.as_str()) && host[..host.len() - d.len()].ends_with('.'))
        })
    }
}

impl FromStr for NoProxy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = NoProxy {
            text: s.trim().to_owned(),
            ..NoProxy::default()
        };
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                out.all = true;
                continue;
            }
            let (addr, bits) = match entry.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (entry, None),
            };
            let bare = addr.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<IpAddr>() {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits =
                    match bits {
                        None => max,
                        Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| {
                            format!("no_proxy: `{entry}` is not an address block")
                        })?,
                    };
                out.blocks.push((ip, bits));
                continue;
            }
            let name = match addr.rsplit_once(':') {
                Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => addr,
            };
            let name = name.trim_start_matches("*.").trim_start_matches('.');
            if name.is_empty() || bits.is_some() {
                return Err(format!(
                    "no_proxy: `{entry}` is not a host, address or block"
                ));
            }
            out.domains.push(name.to_ascii_lowercase());
        }
        Ok(out)
    }
}

impl fmt::Display for NoProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_what_people_write() {
        assert_eq!("auto".parse(), Ok(HttpVersion::Auto));
        assert_eq!("1.1".parse(), Ok(HttpVersion::Http1));
        assert_eq!("2".parse(), Ok(HttpVersion::Http2));
        assert_eq!("H2".parse(), Ok(HttpVersion::Http2));
        assert_eq!(
            "3".parse::<HttpVersion>().unwrap_err(),
            "unknown http version `3` (expected auto, \"1.1\" or \"2\")"
        );
        assert_eq!(HttpVersion::Http1.to_string(), "1.1");
    }

    #[test]
    fn proxy_urls_take_credentials_and_default_the_scheme() {
        let p: ProxyUrl = "http://us%40er:p%3Ass@127.0.0.1:3128".parse().unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 3128));
        assert_eq!(p.credentials.as_deref(), Some("us@er:p:ss"));
        let bare: ProxyUrl = "proxy.test:8080".parse().unwrap();
        assert_eq!(
            (bare.host.as_str(), bare.port, bare.credentials),
            ("proxy.test", 8080, None)
        );
        let v6: ProxyUrl = "http://[::1]:3128".parse().unwrap();
        assert_eq!(v6.host, "::1");
        assert!(
            "https://p.test"
                .parse::<ProxyUrl>()
                .unwrap_err()
                .contains("only http://")
        );
        assert!("http://".parse::<ProxyUrl>().is_err());
    }

    #[test]
    fn no_proxy_matches_domains_addresses_and_blocks() {
        let n: NoProxy = "example.com, .internal, 10.0.0.0/8, ::1, shop.test:8080"
            .parse()
            .unwrap();
        assert!(n.bypasses("example.com"));
        assert!(n.bypasses("api.example.com"));
        assert!(!n.bypasses("badexample.com"));
        assert!(n.bypasses("db.internal"));
        assert!(n.bypasses("10.2.3.4"));
        assert!(!n.bypasses("11.0.0.1"));
        assert!(n.bypasses("[::1]"));
        assert!(n.bypasses("shop.test"));
        assert!("*".parse::<NoProxy>().unwrap().bypasses("anything"));
        assert!("10.0.0.0/40".parse::<NoProxy>().is_err());
    }

    #[test]
    fn the_environment_is_read_lowercase_first() {
        let env = |name: &str| match name {
            "http_proxy" => Some("http://lower:1".to_owned()),
            "HTTP_PROXY" => Some("http://upper:2".to_owned()),
            "HTTPS_PROXY" => Some("http://secure:3".to_owned()),
            "NO_PROXY" => Some("localhost".to_owned()),
            _ => None,
        };
        let s = ProxySettings::from_env(env).unwrap();
        assert_eq!(s.http.as_ref().unwrap().host, "lower");
        assert_eq!(s.for_target(true, "a.test").unwrap().host, "secure");
        assert_eq!(s.for_target(true, "localhost"), None);
        let bad = ProxySettings::from_env(|n| (n == "HTTPS_PROXY").then(|| "ftp://x".to_owned()));
        assert!(bad.unwrap_err().starts_with("HTTPS_PROXY: proxy `ftp://x`"));
    }
}
