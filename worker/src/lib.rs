//! The worker's scenario engine: thousands of virtual users on tokio, each a
//! browser-like HTTP session running its class's steps, all recording into one
//! [`Recorder`] that the caller drains every reporting interval.
//!
//! [`Engine`] is driven by targets ("run these users, ramping at this rate",
//! or "start iterations on this schedule"), by the master over gRPC.

pub mod agent;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;

mod arrival;
mod clock;
mod exchange;
mod pool;
mod targets;
mod user;
mod vu;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use stampede_common::run::{Assignment, RunSettings};
use stampede_common::scenario::Scenario;
use stampede_common::stats::{IntervalStats, Recorder};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use stampede_common::run::{ArrivalShare, UserSlot};

use crate::http::{ClientOptions, HttpClient, HttpError};

/// Errors starting the engine.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
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
    /// Starts an engine with no users; its tasks carry `span`.
    ///
    /// # Errors
    ///
    /// An HTTP client that cannot be built (an unusable CA certificate).
    pub fn start(
        scenario: Arc<Scenario>,
        settings: &RunSettings,
        span: tracing::Span,
    ) -> Result<Self, WorkerError> {
        let client = HttpClient::new(ClientOptions {
            insecure: settings.tls.insecure,
            ca_cert_pem: settings.tls.ca_cert_pem.clone(),
            network: settings.network.clone(),
            http: settings.http.clone(),
            ..ClientOptions::default()
        })?;
        let recorder = Arc::new(Recorder::new(scenario.stat_keys.clone()));
        let shared = Arc::new(user::Shared {
            scenario,
            recorder: recorder.clone(),
            client,
            host: settings.target.to_string(),
            default_timeout: settings.request_timeout,
            urls: targets::UrlCache::default(),
            stop_timeout: settings.stop_timeout,
        });
        let users = Arc::new(AtomicUsize::new(0));
        let cancel = CancellationToken::new();
        let (tx, rx) = mpsc::channel(16);
        let pool = pool::Pool::new(shared, users.clone(), cancel.clone());
        tokio::spawn(pool.run(rx).instrument(span));
        Ok(Self {
            tx,
            recorder,
            users,
            cancel,
        })
    }

    /// Moves towards the assignment: exactly these users, started or
    /// stopped at the spawn rate (a rate of 0 or less means at once), or this
    /// share of an open-model schedule from now on (keeping the users of an
    /// earlier share).
    ///
    /// # Errors
    ///
    /// The engine has stopped.
    pub async fn assign(&self, assignment: Assignment) -> Result<(), WorkerError> {
        let cmd = match assignment {
            Assignment::Users { users, spawn_rate } => pool::Command::SetTarget {
                users,
                rate: spawn_rate,
            },
            Assignment::Arrival(share) => pool::Command::SetArrival(share),
        };
        self.tx.send(cmd).await.map_err(|_| WorkerError::Stopped)
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
