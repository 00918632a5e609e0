//! Shutdown signals: the first Ctrl-C or SIGTERM cancels the root token (a
//! graceful stop that still prints the results); a second one exits at once.

use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Cancels `token` on the first SIGINT/SIGTERM; exits the process on the second.
pub fn spawn_handler(token: CancellationToken) {
    tokio::spawn(async move {
        wait().await;
        warn!("stopping: letting users finish (press Ctrl-C again to quit at once)");
        token.cancel();
        wait().await;
        std::process::exit(130);
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
