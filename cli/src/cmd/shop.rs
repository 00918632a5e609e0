//! `stampede shop`: the demo target alone.

use std::process::ExitCode;

use stampede_shop::{Shop, ShopConfig};

use crate::args::ShopArgs;
use crate::exit::{Failure, cannot_run, usage};
use crate::listen;
use crate::process::{process_tasks, shut_down};

/// Serves the shop until stopped.
///
/// # Errors
///
/// A bad error rate (exit 2), or an address that cannot be bound (exit 3).
pub async fn shop(args: ShopArgs) -> Result<ExitCode, Failure> {
    let cfg = ShopConfig {
        latency: args.latency,
        error_rate: args.error_rate,
        slow: args.slow,
        concurrency: args.concurrency,
    };
    cfg.validate().map_err(|e| usage(e.to_string()))?;
    let listener = listen::bind(&format!("cannot listen on {}", args.listen), &args.listen).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| cannot_run(e.to_string()))?;
    // Tests and scripts wait for this line on stdout.
    println!("shop listening on http://{addr}");
    let (tasks, stop) = process_tasks();
    let served = Shop::new(cfg)
        .serve(listener, stop.cancelled_owned())
        .await
        .map(|()| ExitCode::SUCCESS)
        .map_err(|e| cannot_run(format!("shop: {e}")));
    shut_down(&tasks, served).await
}
