//! `stampede demo`: the shop target on a free loopback port and the seed's
//! shop scenario against it, with the report, then a check that stampede
//! counted exactly the requests the shop served.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stampede_common::duration::format_duration;
use stampede_common::run::TlsSettings;
use stampede_common::scenario::ScenarioSource;
use stampede_master::run::{LoadModel, RunTemplate};
use stampede_master::standalone::{run_standalone, start_local_cluster};
use stampede_shop::{Shop, ShopConfig};

use crate::args::DemoArgs;
use crate::config::{headless_plan, thresholds};
use crate::exit::{EXIT_THRESHOLD, Failure, cannot_run, usage};
use crate::listen;
use crate::output::{Outputs, watch};
use crate::process::{process_tasks, shut_down};

/// The embedded seed scenario the demo runs.
const SHOP_YAML: &str = include_str!("../../../scenarios/shop.yaml");

/// Runs the demo.
///
/// # Errors
///
/// Bad flags (exit 2), a run that cannot run (exit 3), or counts that do
/// not match (exit 1).
pub async fn demo(args: DemoArgs) -> Result<ExitCode, Failure> {
    let shop_cfg = ShopConfig {
        latency: args.latency.0,
        error_rate: args.error_rate,
        ..Default::default()
    };
    shop_cfg.validate().map_err(|e| usage(e.to_string()))?;
    let outputs = Outputs::check(&args.output)?;
    let source = ScenarioSource::from_text("scenarios/shop.yaml", SHOP_YAML);
    let scenario = source.compile().map_err(|e| usage(e.render()))?;
    let listener = listen::bind("cannot bind the shop target", "127.0.0.1:0").await?;
    let addr = listener
        .local_addr()
        .map_err(|e| cannot_run(e.to_string()))?;
    let template = RunTemplate {
        source,
        target: Some(
            format!("http://{addr}")
                .parse()
                .map_err(|e: stampede_common::run::TargetError| cannot_run(e.to_string()))?,
        ),
        tls: TlsSettings {
            insecure: false,
            ca_cert_pem: None,
        },
        request_timeout: Duration::from_secs(60),
        stop_timeout: Duration::ZERO,
        tags: Default::default(),
        network: Default::default(),
        http: Default::default(),
        users: args.users,
        spawn_rate: args.spawn_rate,
        classes: Vec::new(),
        run_time: Some(args.run_time),
        load: LoadModel::Users,
        thresholds: thresholds(&scenario, &args.output),
        scenario: Arc::new(scenario),
    };
    let plan = headless_plan(&template)?;
    let metrics = listen::metrics(&args.output).await?;
    eprintln!(
        "demo: shop target on http://{addr} (latency {}, error rate {}); running scenarios/shop.yaml with {} users for {}",
        args.latency.0.map_or("0ms".to_owned(), |l| l.to_string()),
        args.error_rate,
        args.users,
        format_duration(args.run_time)
    );
    let (tasks, stop) = process_tasks();
    let shop = Shop::new(shop_cfg);
    let shop_stop = tasks.child_token();
    let serving = shop
        .clone()
        .serve(listener, shop_stop.clone().cancelled_owned());
    tasks.spawn(async move {
        if let Err(e) = serving.await {
            tracing::warn!(error = %e, "the shop target failed");
        }
    });
    let result = async {
        let local = start_local_cluster(1, &tasks).await?;
        if let Some(l) = metrics {
            stampede_master::metrics::serve(l, local.handle.clone(), &tasks);
        }
        let report = run_standalone(&local, plan, watch(&args.output), stop).await?;
        shop_stop.cancel();
        let served = shop.stats().served;
        let code = outputs.finish(&report)?;
        let counted = report.snapshot.total.requests;
        if served != counted {
            return Err(Failure {
                code: EXIT_THRESHOLD,
                message: format!(
                    "count mismatch: the shop served {served} requests but stampede counted {counted}"
                ),
            });
        }
        println!(
            "\nthe shop served {served} requests and stampede counted {counted}: the counts match"
        );
        Ok(code)
    }
    .await;
    shut_down(&tasks, result).await
}
