//! The contract of a run between the master and its workers, as plain typed
//! values: the [`Target`] (an http(s) base URL, checked once where it enters),
//! the [`RunSettings`] every worker runs with, the [`UserSlot`]s of the closed
//! model and the [`ArrivalShare`] of the open model. The wire forms of these
//! live in the proto crate's `convert` module, and nowhere else.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::shape::ArrivalShape;

mod http;
mod network;
pub use http::{DEFAULT_MAX_BODY, HttpSettings, HttpVersion, NoProxy, ProxySettings, ProxyUrl};
pub use network::{NetworkSettings, Resolve, parse_source_ips};

/// A target base URL: `http` or `https` with a host, kept as the user wrote
/// it (request paths are appended to that text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    url: Url,
    text: String,
}

/// A target that is not an http(s) URL with a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid host `{0}`: expected a url like http://127.0.0.1:8000")]
pub struct TargetError(pub String);

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        match Url::parse(text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Ok(Self {
                    url,
                    text: text.to_owned(),
                })
            }
            _ => Err(TargetError(text.to_owned())),
        }
    }
}

impl Target {
    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Host and port to connect to (the scheme's default port when none is given).
    pub fn socket_addr(&self) -> (String, u16) {
        let host = self
            .url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        (host, self.url.port_or_known_default().unwrap_or(80))
    }
}

impl fmt::Display for Target {
    /// The URL as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How the workers' virtual users talk to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Accept any server certificate (handshake signatures are still checked).
    pub insecure: bool,
    /// Extra CA certificate(s), PEM, trusted besides the system roots.
    pub ca_cert_pem: Option<Vec<u8>>,
}

/// Locust's `--tags` and `--exclude-tags`: which tagged tasks run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    /// When not empty, only tasks with one of these tags run.
    pub include: Vec<String>,
    /// Tasks with one of these tags do not run.
    pub exclude: Vec<String>,
}

impl TagFilter {
    /// Whether a task with `tags` runs.
    pub fn keeps(&self, tags: &[String]) -> bool {
        (self.include.is_empty() || tags.iter().any(|t| self.include.contains(t)))
            && !tags.iter().any(|t| self.exclude.contains(t))
    }

    /// Whether it lets every task run.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

/// The settings every worker runs a run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    /// Base URL of relative paths.
    pub target: Target,
    /// HTTPS trust.
    pub tls: TlsSettings,
    /// Timeout of requests whose step sets none (above zero).
    pub request_timeout: Duration,
    /// Zero: users stop after their in-flight request. Otherwise they may
    /// finish their current task for this long.
    pub stop_timeout: Duration,
    /// Which tagged tasks run.
    pub tags: TagFilter,
    /// Host overrides and source addresses.
    pub network: NetworkSettings,
    /// HTTP version, shared connections, TLS resumption and proxies.
    pub http: HttpSettings,
}

impl RunSettings {
    /// Settings for `target` with the defaults: system roots, 60 s request
    /// timeout, no stop timeout.
    pub fn new(target: Target) -> Self {
        Self {
            target,
            tls: TlsSettings {
                insecure: false,
                ca_cert_pem: None,
            },
            request_timeout: Duration::from_secs(60),
            stop_timeout: Duration::ZERO,
            tags: TagFilter::default(),
            network: NetworkSettings::default(),
            http: HttpSettings::default(),
        }
    }
}

/// One virtual user a worker should run (the closed model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserSlot {
    /// Cluster-unique user index (feeds `user_index` and feeder rows).
    pub index: u64,
    /// Index of the class in the scenario.
    pub class: usize,
}

/// A worker's share of an arrival-rate shape (the open model), from
/// `elapsed` into it: the master splits every rate and `max_users` over the
/// workers exactly and sends new shares whenever workers come or go.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivalShare {
    /// Where in the shape this share takes over.
    pub elapsed: Duration,
    /// The worker's part of the shape.
    pub shape: ArrivalShape,
    /// Most users this worker may have alive at once.
    pub max_users: u64,
    /// New users take indices `first_index..first_index + max_users`.
    pub first_index: u64,
    /// The classes that take part, with their weights.
    pub classes: Vec<(usize, u32)>,
}

/// What a worker runs of a run now: a target, not a delta.
#[derive(Debug, Clone, PartialEq)]
pub enum Assignment {
    /// Run exactly these users, starting or stopping `spawn_rate` per second.
    Users {
        /// The users.
        users: Vec<UserSlot>,
        /// Users per second (0 or less: at once).
        spawn_rate: f64,
    },
    /// Start iterations on this schedule.
    Arrival(ArrivalShare),
}

impl Assignment {
    /// The highest class index it names, to check against the scenario.
    pub fn max_class(&self) -> Option<usize> {
        match self {
            Assignment::Users { users, .. } => users.iter().map(|u| u.class).max(),
            Assignment::Arrival(a) => a.classes.iter().map(|c| c.0).max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_http_urls_with_a_host() {
        let t: Target = " http://127.0.0.1:8000 ".parse().unwrap();
        assert_eq!(t.to_string(), "http://127.0.0.1:8000");
        assert_eq!(t.socket_addr(), ("127.0.0.1".to_owned(), 8000));
        let t: Target = "https://[::1]/api/".parse().unwrap();
        assert_eq!(t.to_string(), "https://[::1]/api/");
        assert_eq!(t.socket_addr(), ("::1".to_owned(), 443));
        for bad in ["", "127.0.0.1:8000", "ftp://x", "http://", "nonsense"] {
            let e = bad.parse::<Target>().unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("invalid host `{bad}`: expected a url like http://127.0.0.1:8000")
            );
        }
    }

    #[test]
    fn an_assignment_names_its_highest_class() {
        let a = Assignment::Users {
            users: vec![
                UserSlot { index: 0, class: 2 },
                UserSlot { index: 1, class: 0 },
            ],
            spawn_rate: 1.0,
        };
        assert_eq!(a.max_class(), Some(2));
        let none = Assignment::Users {
            users: vec![],
            spawn_rate: 1.0,
        };
        assert_eq!(none.max_class(), None);
    }
}
