//! Shutdown signals: the first Ctrl-C or SIGTERM cancels the run's token (a
//! graceful stop that still prints the results); a second one exits at once.

use stampede_master::tasks::Tasks;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Cancels `stop` on the first SIGINT/SIGTERM and exits the process on the
/// second; the handler is a task of `tasks` and ends with them.
pub fn spawn_handler(tasks: &Tasks, stop: CancellationToken) {
    let root = tasks.token();
    tasks.spawn(async move {
        tokio::select! {
            _ = wait() => {}
            _ = root.cancelled() => return,
        }
        warn!("stopping: letting users finish (press Ctrl-C again to quit at once)");
        stop.cancel();
        tokio::select! {
            _ = wait() => std::process::exit(130),
            _ = root.cancelled() => {}
        }
    });
}

#[cfg(unix)]
async fn wait() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait() {
    let _ = tokio::signal::ctrl_c().await;
}
