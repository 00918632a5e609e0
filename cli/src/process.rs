//! The process's life: its task tree (one root token, every server and
//! worker task tracked), the signal handler that stops the run, and the
//! bounded shutdown at the end.

use std::time::Duration;

use stampede_master::tasks::Tasks;
use tokio_util::sync::CancellationToken;

use crate::signal;

/// How long the process's tasks may take to end after the run.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// The process's task tree, and the token a signal cancels to stop the run.
pub fn process_tasks() -> (Tasks, CancellationToken) {
    let tasks = Tasks::new();
    let stop = tasks.child_token();
    signal::spawn_handler(&tasks, stop.clone());
    (tasks, stop)
}

/// Ends the process's tasks; the result is the command's.
pub async fn shut_down<T>(tasks: &Tasks, result: T) -> T {
    tasks.shutdown(SHUTDOWN_GRACE).await;
    result
}
