//! The process's task tree: one root [`CancellationToken`], child tokens for
//! the parts that stop on their own (a run, the in-process workers), and a
//! [`TaskTracker`] every long-lived task is spawned on (the actor, the gRPC,
//! web, metrics and health servers, in-process workers). Shutdown cancels
//! the root and waits for the tracker, with a deadline.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

/// A root token and the tasks that end with it.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    root: CancellationToken,
    tracker: TaskTracker,
}

impl Tasks {
    /// A new tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The root token: cancelled at shutdown.
    pub fn token(&self) -> CancellationToken {
        self.root.clone()
    }

    /// A child of the root: cancelled at shutdown, or earlier by itself.
    pub fn child_token(&self) -> CancellationToken {
        self.root.child_token()
    }

    /// A subtree: its own child token and tracker, shut down on its own
    /// (before the rest) or with the root.
    pub fn subtree(&self) -> Tasks {
        Tasks {
            root: self.root.child_token(),
            tracker: TaskTracker::new(),
        }
    }

    /// Spawns `task` on the tracker.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    /// Cancels the tree and waits up to `grace` for every task; false when
    /// some were still running at the deadline.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.root.cancel();
        self.tracker.close();
        let done = tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok();
        if !done {
            warn!(
                tasks = self.tracker.len(),
                grace = ?grace,
                "tasks still running at the shutdown deadline"
            );
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_cancels_and_waits_for_every_task() {
        let tasks = Tasks::new();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(4);
        for token in [tasks.token(), tasks.child_token()] {
            let tx = done_tx.clone();
            tasks.spawn(async move {
                token.cancelled().await;
                let _ = tx.send(()).await;
            });
        }
        let sub = tasks.subtree();
        let t = sub.token();
        sub.spawn(async move { t.cancelled().await });
        assert!(
            sub.shutdown(Duration::from_secs(5)).await,
            "a subtree stops alone"
        );
        assert!(!tasks.token().is_cancelled());
        assert!(tasks.shutdown(Duration::from_secs(5)).await);
        drop(done_tx);
        let mut n = 0;
        while done_rx.recv().await.is_some() {
            n += 1;
        }
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn a_task_that_ignores_the_token_is_reported_at_the_deadline() {
        let tasks = Tasks::new();
        tasks.spawn(std::future::pending());
        assert!(!tasks.shutdown(Duration::from_millis(50)).await);
    }
}
