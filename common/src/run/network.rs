//! Where a run's connections go and come from: host overrides (curl's
//! `--resolve host:port:addr`, for testing one backend behind a name) and
//! the local addresses users' connections bind to (`--source-ips`, so one
//! worker can hold more connections than one address's ephemeral ports
//! allow), spread over users by their index.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The most source addresses one range may name.
const MAX_SOURCES: u32 = 65_536;

/// Host overrides and source addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSettings {
    /// Names sent to a given address instead of being looked up.
    pub resolve: Vec<Resolve>,
    /// Local addresses to bind to, user `i` taking `source_ips[i % len]`.
    pub source_ips: Vec<IpAddr>,
}

impl NetworkSettings {
    /// The address `host:port` is sent to instead of a lookup, if any.
    pub fn resolved(&self, host: &str, port: u16) -> Option<IpAddr> {
        self.resolve
            .iter()
            .find(|r| r.port == port && r.host.eq_ignore_ascii_case(host))
            .map(|r| r.addr)
    }

    /// The local address of user `index`, if any are set.
    pub fn source_for(&self, index: u64) -> Option<IpAddr> {
        if self.source_ips.is_empty() {
            return None;
        }
        let i = (index % self.source_ips.len() as u64) as usize;
        Some(self.source_ips[i])
    }
}

/// `host:port:addr`: connections to `host:port` go to `addr`; the request's
/// Host header and TLS server name stay `host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// The name, as in the URL.
    pub host: String,
    /// The port, as in the URL (or its scheme's default).
    pub port: u16,
    /// Where to connect instead.
    pub addr: IpAddr,
}

impl FromStr for Resolve {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            |why: &str| format!("`{s}`: {why} (expected HOST:PORT:ADDR, as curl's --resolve)");
        let mut parts = s.splitn(3, ':');
        let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not three parts"));
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("the port is not 1 to 65535"))?;
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| bad("the address is not an IP address"))?;
        Ok(Self {
            host: host.to_owned(),
            port,
            addr,
        })
    }
}

impl fmt::Display for Resolve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V6(a) => write!(f, "{}:{}:[{a}]", self.host, self.port),
            IpAddr::V4(a) => write!(f, "{}:{}:{a}", self.host, self.port),
        }
    }
}

/// `--source-ips`: addresses and ranges, comma-separated
/// (`127.0.0.1-127.0.0.8,10.0.0.5`); a range is IPv4, both ends included.
///
/// # Errors
///
/// Something that is not an address, a range of two families or reversed, or
/// more than 65,536 addresses in one range.
pub fn parse_source_ips(s: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let addr = |a: &str| -> Result<IpAddr, String> {
            a.parse()
                .map_err(|_| format!("`{a}` in `{s}` is not an IP address"))
        };
        match part.split_once('-') {
            None if part.is_empty() => return Err(format!("an empty address in `{s}`")),
            None => out.push(addr(part)?),
            Some((a, b)) => {
                let (IpAddr::V4(a), IpAddr::V4(b)) = (addr(a)?, addr(b)?) else {
                    return Err(format!("`{part}`: ranges are of IPv4 addresses"));
                };
                let (a, b) = (u32::from(a), u32::from(b));
                if b < a {
                    return Err(format!("`{part}`: the range ends before it starts"));
                }
                if b - a >= MAX_SOURCES {
                    return Err(format!(
                        "`{part}`: more than {MAX_SOURCES} addresses in one range"
                    ));
                }
                out.extend((a..=b).map(|n| IpAddr::V4(n.into())));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_parses_as_curl_writes_it() {
        let r: Resolve = "shop.test:8443:127.0.0.2".parse().unwrap();
        assert_eq!((r.host.as_str(), r.port), ("shop.test", 8443));
        assert_eq!(r.to_string(), "shop.test:8443:127.0.0.2");
        let v6: Resolve = "a:80:[::1]".parse().unwrap();
        assert_eq!(v6.to_string(), "a:80:[::1]");
        assert_eq!(
            "a:0:127.0.0.1".parse::<Resolve>().unwrap_err(),
            "`a:0:127.0.0.1`: the port is not 1 to 65535 (expected HOST:PORT:ADDR, as curl's --resolve)"
        );
        assert!("a:80".parse::<Resolve>().is_err());
        assert!("a:80:localhost".parse::<Resolve>().is_err());
        let n = NetworkSettings {
            resolve: vec![r],
            source_ips: Vec::new(),
        };
        assert_eq!(n.resolved("SHOP.test", 8443), "127.0.0.2".parse().ok());
        assert_eq!(n.resolved("shop.test", 80), None);
    }

    #[test]
    fn source_ips_take_lists_and_ranges_and_spread_over_users() {
        let ips = parse_source_ips("127.0.0.1-127.0.0.3, 10.0.0.9").unwrap();
        assert_eq!(ips.len(), 4);
        let n = NetworkSettings {
            resolve: Vec::new(),
            source_ips: ips,
        };
        assert_eq!(n.source_for(5), "127.0.0.2".parse().ok());
        assert_eq!(
            parse_source_ips("127.0.0.9-127.0.0.1").unwrap_err(),
            "`127.0.0.9-127.0.0.1`: the range ends before it starts"
        );
        assert_eq!(
            parse_source_ips("127.0.0.1,x").unwrap_err(),
            "`x` in `127.0.0.1,x` is not an IP address"
        );
        assert!(parse_source_ips("10.0.0.0-10.1.0.0").is_err());
        assert!(parse_source_ips("::1-::2").is_err());
    }
}
