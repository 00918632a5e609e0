//! The worker's scenario engine: thousands of virtual users on tokio, each a
//! browser-like HTTP session running its class's steps, all recording into one
//! [`Recorder`] that the caller drains every reporting interval.
//!
//! [`Engine`] is driven by targets ("run these users, ramping at this rate",
//! or "start iterations on this schedule"), by the master over gRPC.

pub mod agent;
pub mod http;

mod arrival;
mod clock;
mod exchange;
mod pool;
mod targets;
mod vu;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stampede_common::scenario::Scenario;
use stampede_common::stats::{IntervalStats, Recorder};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use arrival::ArrivalShare;
pub use pool::UserSlot;

use crate::http::{ClientOptions, HttpClient, HttpError};

/// Engine settings, validated by the caller.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Base URL for relative paths; the scenario's `host` when `None`.
    pub host: Option<String>,
    /// HTTP client settings (TLS, redirects, connect timeout).
    pub http: ClientOptions,
    /// Request timeout when a step sets none.
    pub default_timeout: Duration,
    /// Zero: users stop at the next step. Otherwise they finish their task.
    pub stop_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            host: None,
            http: ClientOptions::default(),
            default_timeout: Duration::from_secs(60),
            stop_timeout: Duration::ZERO,
        }
    }
}

/// Errors starting the engine.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Neither `--host` nor the scenario names a target.
    #[error("no target host: pass --host or set `host:` in the scenario")]
    NoHost,
    /// The host is not an http(s) URL.
    #[error("invalid host `{0}`: expected a url like http://127.0.0.1:8000")]
    InvalidHost(String),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The engine's task is gone.
    #[error("the engine has stopped")]
    Stopped,
}

/// A running engine. Dropping it stops its users.
#[derive(Debug)]
pub struct Engine {
    tx: mpsc::Sender<pool::Command>,
    recorder: Arc<Recorder>,
    users: Arc<AtomicUsize>,
    cancel: CancellationToken,
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Engine {
    /// Starts an engine with no users.
    ///
    /// # Errors
    ///
    /// No usable host, or an HTTP client that cannot be built.
    pub fn start(scenario: Arc<Scenario>, cfg: EngineConfig) -> Result<Self, WorkerError> {
        let host = cfg
            .host
            .clone()
            .or_else(|| scenario.host.clone())
            .ok_or(WorkerError::NoHost)?;
        match url::Url::parse(&host) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return Err(WorkerError::InvalidHost(host)),
        }
        let client = HttpClient::new(cfg.http.clone())?;
        let recorder = Arc::new(Recorder::new(scenario.stat_keys.clone()));
        let shared = Arc::new(vu::Shared {
            scenario,
            recorder: recorder.clone(),
            client,
            host,
            default_timeout: cfg.default_timeout,
            urls: targets::UrlCache::default(),
            stop_timeout: cfg.stop_timeout,
        });
        let users = Arc::new(AtomicUsize::new(0));
        let cancel = CancellationToken::new();
        let (tx, rx) = mpsc::channel(16);
        let pool = pool::Pool::new(shared, users.clone(), cancel.clone());
        tokio::spawn(pool.run(rx));
        Ok(Self {
            tx,
            recorder,
            users,
            cancel,
        })
    }

    /// Moves towards running exactly `users`, starting or stopping
    /// `spawn_rate` users per second (a rate of 0 or less means at once).
    ///
    /// # Errors
    ///
    /// The engine has stopped.
    pub async fn set_target(
        &self,
        users: Vec<UserSlot>,
        spawn_rate: f64,
    ) -> Result<(), WorkerError> {
        self.tx
            .send(pool::Command::SetTarget {
                users,
                rate: spawn_rate,
            })
            .await
            .map_err(|_| WorkerError::Stopped)
    }

    /// Runs this share of an open-model (arrival-rate) run from now on,
    /// keeping the users of an earlier share.
    ///
    /// # Errors
    ///
    /// The engine has stopped.
    pub async fn set_arrival(&self, share: ArrivalShare) -> Result<(), WorkerError> {
        self.tx
            .send(pool::Command::SetArrival(share))
            .await
            .map_err(|_| WorkerError::Stopped)
    }

    /// Stops every user (gracefully, then forcibly) and returns when they are gone.
    ///
    /// # Errors
    ///
    /// The engine has stopped.
    pub async fn stop_all(&self) -> Result<(), WorkerError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(pool::Command::StopAll { reply })
            .await
            .map_err(|_| WorkerError::Stopped)?;
        done.await.map_err(|_| WorkerError::Stopped)
    }

    /// Users running now.
    pub fn users(&self) -> usize {
        self.users.load(Ordering::Relaxed)
    }

    /// Everything recorded since the last call.
    pub fn take_stats(&self) -> IntervalStats {
        self.recorder.take()
    }
}
