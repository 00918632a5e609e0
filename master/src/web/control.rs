//! [`WebApp`]: the UI's thin client of the master. It turns the form's
//! requests into plans with the [`RunTemplate`] and forwards them to the
//! [`MasterHandle`]; the master owns and drives the run (run time, shape,
//! thresholds) and keeps the last finished run's report for the downloads.

use std::sync::Arc;

use tokio::sync::watch;
use tracing::info;

use super::input::WebError;
use crate::MasterError;
use crate::cluster::{Finished, MasterHandle};
use crate::report::{RunReport, StopReason};
use crate::run::{RunTemplate, StartRequest, check_change};

/// The UI's side of the master: start, change, stop, reset, report.
#[derive(Debug, Clone)]
pub struct WebApp {
    master: MasterHandle,
    template: Arc<RunTemplate>,
}

impl WebApp {
    /// A UI for `master` whose runs are made from `template`.
    pub fn new(master: MasterHandle, template: RunTemplate) -> Self {
        Self {
            master,
            template: Arc::new(template),
        }
    }

    /// The master behind the UI.
    pub fn master(&self) -> &MasterHandle {
        &self.master
    }

    /// The scenario and the form's defaults.
    pub fn template(&self) -> &RunTemplate {
        &self.template
    }

    /// The start form's defaults, from the command line and the scenario.
    pub fn defaults(&self) -> StartRequest {
        self.template.defaults()
    }

    /// The last finished run; changes each time one ends.
    pub fn finished_runs(&self) -> watch::Receiver<Option<Finished>> {
        self.master.finished()
    }

    /// The last finished run.
    pub fn last(&self) -> Option<Finished> {
        self.master.finished().borrow().clone()
    }

    /// Starts a run on the connected workers; returns its id.
    ///
    /// # Errors
    ///
    /// Bad input, a run already going, no worker connected, or the master gone.
    pub async fn start(&self, req: StartRequest) -> Result<u64, WebError> {
        let plan = self
            .template
            .plan(&req)
            .map_err(|e| WebError::BadRequest(e.0))?;
        if self.master.connected() == 0 {
            return Err(WebError::Conflict("no worker is connected yet".into()));
        }
        let id = self.master.start(plan).await?;
        info!(run = id, "run started from the web ui");
        Ok(id)
    }

    /// Changes the running run's users, and its spawn rate if given; returns
    /// both as they are now.
    ///
    /// # Errors
    ///
    /// Bad input, no run going, a run that follows its shape, or the master gone.
    pub async fn set_users(
        &self,
        users: u64,
        spawn_rate: Option<f64>,
    ) -> Result<(u64, f64), WebError> {
        check_change(users, spawn_rate).map_err(|e| WebError::BadRequest(e.0))?;
        Ok(self.master.set_users(users, spawn_rate).await?)
    }

    /// Stops the run and waits for its report.
    ///
    /// # Errors
    ///
    /// No run going, or the master gone.
    pub async fn stop(&self, reason: StopReason) -> Result<Arc<RunReport>, WebError> {
        Ok(self.master.stop(reason).await?)
    }

    /// Forgets the running run's statistics so far.
    ///
    /// # Errors
    ///
    /// No run going, or the master gone.
    pub async fn reset(&self) -> Result<(), WebError> {
        if self.master.reset_stats().await? {
            Ok(())
        } else {
            Err(MasterError::NotRunning.into())
        }
    }

    /// The report of the running run so far, or else of the last finished one.
    ///
    /// # Errors
    ///
    /// No run yet, or the master gone.
    pub async fn report(&self) -> Result<Arc<RunReport>, WebError> {
        if let Some(now) = self.master.report().await? {
            return Ok(now);
        }
        self.last()
            .map(|f| f.report)
            .ok_or_else(|| WebError::NotFound("no run yet".into()))
    }

    /// Stops the run if one is going (the process is quitting) and returns
    /// the last finished run's report.
    pub async fn shutdown(&self) -> Option<Arc<RunReport>> {
        match self.master.stop(StopReason::Interrupted).await {
            Ok(report) => Some(report),
            Err(_) => self.last().map(|f| f.report),
        }
    }
}
