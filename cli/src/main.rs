//! `stampede`: parse the command line, start the runtime, run the
//! subcommand, print a failure as one line and exit with its code (0 ok,
//! 1 failures or thresholds, 2 usage or scenario errors, 3 the run could
//! not run).

mod args;
mod cmd;
mod config;
mod exit;
mod listen;
mod locust_conf;
mod output;
mod process;
mod signal;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let argv = match locust_conf::expand(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(f) => return f.exit(),
    };
    let cli = args::Cli::parse_from(argv);
    stampede_common::telemetry::init("info");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return exit::cannot_run(exit::io("cannot start the runtime", &e)).exit(),
    };
    runtime
        .block_on(cmd::dispatch(cli.command))
        .unwrap_or_else(exit::Failure::exit)
}
