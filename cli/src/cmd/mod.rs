//! The subcommands, one file each, on top of the layers below them: the
//! validated configuration (`config`), the outputs (`output`), the
//! listeners (`listen`), signals and exit codes. [`dispatch`] runs one.

mod check;
mod demo;
mod master;
mod run;
mod shop;
mod web;
mod worker;

use std::process::ExitCode;
use std::time::Duration;

use stampede_common::run::Target;
use stampede_master::tasks::Tasks;
use tokio_util::sync::CancellationToken;

use crate::args::{Command, OutputArgs};
use crate::exit::{Failure, cannot_run};
use crate::signal;

/// How long the process's tasks may take to end after the run.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// Runs `cmd` to its exit code.
///
/// # Errors
///
/// What made the command fail, with its exit code.
pub async fn dispatch(cmd: Command) -> Result<ExitCode, Failure> {
    match cmd {
        Command::Run(args) => run::run(args).await,
        Command::Check(args) => check::check(&args),
        Command::Demo(args) => demo::demo(args).await,
        Command::Shop(args) => shop::shop(args).await,
        Command::Master(args) => master::master(args).await,
        Command::Worker(args) => worker::worker(args).await,
    }
}

/// The process's task tree, and the token a signal cancels to stop the run.
fn process_tasks() -> (Tasks, CancellationToken) {
    let tasks = Tasks::new();
    let stop = tasks.child_token();
    signal::spawn_handler(&tasks, stop.clone());
    (tasks, stop)
}

/// Ends the process's tasks; the result is the command's.
async fn shut_down<T>(tasks: &Tasks, result: T) -> T {
    tasks.shutdown(SHUTDOWN_GRACE).await;
    result
}

/// The live table's interval, unless `--only-summary`.
fn print_interval(out: &OutputArgs) -> Option<Duration> {
    (!out.only_summary && !out.print_stats_interval.is_zero()).then_some(out.print_stats_interval)
}

/// Before a standalone run: can this machine reach the target at all?
async fn preflight(target: &Target) -> Result<(), Failure> {
    let unreachable = |why: String| cannot_run(format!("target unreachable: {target}: {why}"));
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(target.socket_addr()),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string().to_lowercase())),
        Err(_) => Err(unreachable("no connection within 5s".into())),
    }
}
