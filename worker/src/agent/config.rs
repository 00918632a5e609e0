//! What the agent is configured with ([`AgentConfig`]), what it publishes
//! ([`AgentStatus`]) and why it gives up ([`AgentError`]).

use std::time::Duration;

use super::backoff::Backoff;

/// How the worker reaches and talks to its master.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// `http://host:port` or, with `tls_ca`, `https://host:port`.
    pub master_url: String,
    /// Shared cluster token.
    pub token: String,
    /// Stable id; a worker that reconnects with it rejoins.
    pub worker_id: String,
    /// PEM CA that signed the master's certificate (TLS to the master).
    pub tls_ca: Option<Vec<u8>>,
    /// Name to check in the master's certificate (default: the URL's host).
    pub tls_domain: Option<String>,
    /// Stop the load when the master has been unreachable this long.
    pub master_timeout: Duration,
    /// Heartbeat interval.
    pub interval: Duration,
    /// Report interval: the most of a killed worker's measurements the
    /// master can lose. Reports go out on the clock's multiples of it.
    pub report_interval: Duration,
    /// The master is gone when silent this long.
    pub silence_timeout: Duration,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Where the agent publishes its state (for health checks and tests).
    pub status: Option<tokio::sync::watch::Sender<AgentStatus>>,
    /// The worker's own proxies (its `--proxy` or environment): they win
    /// over the ones the master ships.
    pub proxy: Option<stampede_common::run::ProxySettings>,
}

/// What the agent is doing, published after every change and interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentStatus {
    /// Attached to the master now.
    pub connected: bool,
    /// Times it has attached so far.
    pub connections: u64,
    /// The run it takes part in.
    pub run: Option<u64>,
    /// Users running now.
    pub users: usize,
    /// Reports waiting for an acknowledgement.
    pub unacked: usize,
    /// The last connection error, if any.
    pub last_error: Option<String>,
}

impl AgentConfig {
    /// Defaults: reports every 250 ms, heartbeats every 1 s, 3 s silence,
    /// 60 s master timeout (a master container's restart),
    /// reconnect backoff 200 ms to 5 s with 30% jitter.
    pub fn new(
        master_url: impl Into<String>,
        token: impl Into<String>,
        worker_id: impl Into<String>,
    ) -> Self {
        Self {
            master_url: master_url.into(),
            token: token.into(),
            worker_id: worker_id.into(),
            tls_ca: None,
            tls_domain: None,
            master_timeout: Duration::from_secs(60),
            interval: Duration::from_secs(1),
            report_interval: Duration::from_millis(250),
            silence_timeout: Duration::from_secs(3),
            backoff: Backoff::try_new(Duration::from_millis(200), Duration::from_secs(5), 0.3)
                .expect("valid"),
            status: None,
            proxy: None,
        }
    }
}

/// Why the agent gave up.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The master refused this worker (wrong token or protocol version).
    #[error("the master refused this worker: {0}")]
    Refused(String),
    /// The master URL or TLS settings are unusable.
    #[error("invalid master address or tls settings: {0}")]
    Config(String),
}
