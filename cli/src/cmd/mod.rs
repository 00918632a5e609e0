//! The subcommands, one file each, on top of the layers below them: the
//! validated configuration (`config`), the outputs (`output`), the
//! listeners (`listen`), the process's tasks and signals (`process`) and
//! the exit codes. [`dispatch`] runs one.

mod check;
mod compare;
mod demo;
mod import;

pub use import::import_on_the_fly;
mod master;
mod run;
mod shop;
mod web;
mod worker;

use std::process::ExitCode;

use crate::args::Command;
use crate::exit::Failure;

/// Runs `cmd` to its exit code.
///
/// # Errors
///
/// What made the command fail, with its exit code.
pub async fn dispatch(cmd: Command) -> Result<ExitCode, Failure> {
    match cmd {
        Command::Run(args) => run::run(args).await,
        Command::Check(args) => check::check(&args),
        Command::Import(args) => import::import(&args),
        Command::Demo(args) => demo::demo(args).await,
        Command::Shop(args) => shop::shop(args).await,
        Command::Master(args) => master::master(args).await,
        Command::Worker(args) => worker::worker(args).await,
        Command::Compare(args) => compare::compare(&args),
    }
}
