//! The command line: one binary, `stampede`, with Locust's flag names where
//! Locust has one. Each flag's doc comment is its `--help` text, and every
//! value is parsed into its type here (durations, rates, shapes, thresholds,
//! URLs, addresses), so a bad value is clap's usage error naming the flag.
//! Relations between flags are checked in `config`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use stampede_common::run::{Resolve, Target};
use stampede_common::shape::{ArrivalShape, Rate, Stages};
use stampede_common::thresholds::Threshold;
use stampede_shop::LatencyRange;

mod capacity;
mod compare;
mod http;
mod values;
pub use capacity::CapacityArgs;
pub use compare::CompareArgs;
pub use http::{HttpArgs, ProxyArgs};
pub use values::{Latency, SourceIps};
use values::{
    arrival_rate, arrival_stages, duration, latency, latency_range, master_address,
    positive_duration, positive_rate, resolve, slow_route, source_ips, stages, target, threshold,
};

/// Distributed load testing: virtual users running a scenario against your service.
#[derive(Debug, Parser)]
#[command(name = "stampede", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a load test in this process (master and worker in one).
    Run(RunArgs),
    /// Validate a scenario without sending any load.
    Check(CheckArgs),
    /// Convert a locustfile into a scenario (YAML).
    Import(ImportArgs),
    /// Run the seed's shop scenario against the built-in shop target, on loopback.
    Demo(DemoArgs),
    /// Serve the demo shop target (the seed's Django API) for load tests.
    Shop(ShopArgs),
    /// Run the master of a cluster: split users over the workers, merge their stats.
    Master(MasterArgs),
    /// Run a worker: connect to a master and run the users it assigns.
    Worker(WorkerArgs),
    /// Compare two runs' JSON reports; gates fail on regressions.
    Compare(CompareArgs),
}

/// What to run and how hard: shared by `run` and `master`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Scenario file (YAML); `-` reads standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE", env = "STAMPEDE_FILE")]
    pub file: String,
    /// Target base URL (overrides the scenario's `host:`).
    #[arg(short = 'H', long, env = "STAMPEDE_HOST", value_parser = target)]
    pub host: Option<Target>,
    /// Peak number of concurrent users.
    #[arg(short = 'u', long, default_value_t = 1, env = "STAMPEDE_USERS")]
    pub users: u64,
    /// Users started per second.
    #[arg(short = 'r', long = "spawn-rate", default_value = "1", value_parser = positive_rate, env = "STAMPEDE_SPAWN_RATE")]
    pub spawn_rate: f64,
    /// Stop after this long (e.g. 30s, 5m, 1h30m); runs until Ctrl-C otherwise.
    #[arg(short = 't', long = "run-time", value_parser = duration, env = "STAMPEDE_RUN_TIME")]
    pub run_time: Option<Duration>,
    /// Only run these user classes (repeatable).
    #[arg(long = "class", value_name = "NAME")]
    pub classes: Vec<String>,
    /// Only run tasks with one of these tags (Locust's --tags; comma-separated or repeated).
    #[arg(short = 'T', long = "tags", value_name = "TAG", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Do not run tasks with one of these tags (Locust's --exclude-tags).
    #[arg(
        short = 'E',
        long = "exclude-tags",
        value_name = "TAG",
        value_delimiter = ','
    )]
    pub exclude_tags: Vec<String>,
    /// Load shape: target users over time with linear ramps, e.g. '1m:100,5m:1000,1m:0'
    /// (overrides -u/-r and the scenario's `stages:`; the run ends with the shape).
    #[arg(long, value_name = "STAGES", value_parser = stages)]
    pub stages: Option<Stages>,
    /// Open model: start iterations at this rate whatever the target does, e.g. 500/s
    /// or 30/m, for --run-time (overrides the scenario's `arrival_rate:`).
    #[arg(long = "arrival-rate", value_name = "RATE", value_parser = arrival_rate, conflicts_with_all = ["stages", "arrival_stages"])]
    pub arrival_rate: Option<Rate>,
    /// Open model with ramps: iterations per second over time, e.g. '30s:100/s,5m:100/s,30s:0/s'
    /// (from 0/s; the run ends with the shape).
    #[arg(
        long = "arrival-stages",
        value_name = "STAGES",
        value_parser = arrival_stages,
        conflicts_with = "stages"
    )]
    pub arrival_stages: Option<ArrivalShape>,
    /// Open model: the most virtual users alive at once, cluster-wide; an
    /// iteration due when all are busy is dropped and counted.
    #[arg(long = "max-users", value_name = "N")]
    pub max_users: Option<u64>,
    /// On stop, let users finish their current task for up to this long.
    #[arg(short = 's', long = "stop-timeout", value_parser = duration, default_value = "0s")]
    pub stop_timeout: Duration,
    /// Request timeout for steps that set none.
    #[arg(long = "request-timeout", value_parser = positive_duration, default_value = "60s")]
    pub request_timeout: Duration,
    /// Trust this PEM CA certificate for HTTPS targets, besides the system roots.
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Do not verify HTTPS certificates of the target.
    #[arg(long)]
    pub insecure: bool,
    /// Send connections to HOST:PORT to ADDR instead of looking HOST up
    /// (curl's form; the Host header and TLS name stay HOST). Repeatable.
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = resolve)]
    pub resolve: Vec<Resolve>,
    /// Local addresses users' connections bind to, spread over users by
    /// index: a list and ranges, `127.0.0.1-127.0.0.8,10.0.0.5`.
    #[arg(long = "source-ips", value_name = "ADDRS", value_parser = source_ips)]
    pub source_ips: Option<SourceIps>,
    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print the live stats table every this often (to stderr).
    #[arg(long = "print-stats-interval", value_parser = duration, default_value = "2s")]
    pub print_stats_interval: Duration,
    /// Only print the summary at the end, no live table.
    #[arg(long = "only-summary")]
    pub only_summary: bool,
    /// Exit with this code when any request failed (thresholds aside).
    #[arg(long = "exit-code-on-error", value_name = "CODE")]
    pub exit_code_on_error: Option<u8>,
    /// Pass/fail criterion on the merged numbers, e.g. 'p95<2s', 'fail_ratio<5%',
    /// 'POST /api/orders/: p99<1500ms' (repeatable; adds to the scenario's).
    #[arg(long = "threshold", value_name = "EXPR", value_parser = threshold)]
    pub thresholds: Vec<Threshold>,
    /// Write Locust's CSV files PREFIX_stats.csv, _stats_history.csv, _failures.csv, _exceptions.csv.
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<String>,
    /// Add per-endpoint rows to the CSV history.
    #[arg(long = "csv-full-history", requires = "csv")]
    pub csv_full_history: bool,
    /// Append the history to FILE while the run goes: one JSON object per
    /// second, flushed as each second closes (about a second after it ends).
    #[arg(long = "history-jsonl", value_name = "FILE")]
    pub history_jsonl: Option<PathBuf>,
    /// Write the JSON report (`-` for stdout; the summary then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Write the self-contained HTML report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<String>,
    /// Write the thresholds as JUnit XML (a test case each), for CI.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary (verdict, thresholds, request table) for a
    /// CI job's summary page.
    #[arg(long = "summary-md", value_name = "FILE")]
    pub summary_md: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics during the run.
    #[arg(long = "metrics-listen", value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub capacity: CapacityArgs,
    /// No web UI: start at once and stop at --run-time.
    #[arg(long)]
    pub headless: bool,
    /// Run N workers in this process, attached to an in-process master over gRPC.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub workers: usize,
    #[command(flatten)]
    pub web: WebArgs,
}

/// The web UI, served unless --headless (Locust's flag names).
#[derive(Debug, Args)]
pub struct WebArgs {
    /// Address the web UI listens on [default: 127.0.0.1 for run, 0.0.0.0 for master].
    #[arg(long = "web-host", value_name = "HOST", env = "STAMPEDE_WEB_HOST")]
    pub web_host: Option<String>,
    /// Port of the web UI (0: a free port; the address is printed to stderr).
    #[arg(
        short = 'P',
        long = "web-port",
        value_name = "PORT",
        default_value_t = 8089,
        env = "STAMPEDE_WEB_PORT"
    )]
    pub web_port: u16,
    /// Require HTTP Basic authentication with this USER:PASSWORD on the web UI and its API.
    #[arg(
        long = "web-login",
        value_name = "USER:PASSWORD",
        env = "STAMPEDE_WEB_LOGIN",
        hide_env_values = true
    )]
    pub web_login: Option<String>,
    /// Require this token on the web UI and its API (`Authorization: Bearer TOKEN`,
    /// or open the UI once at /?token=TOKEN).
    #[arg(
        long = "web-token",
        value_name = "TOKEN",
        env = "STAMPEDE_WEB_TOKEN",
        hide_env_values = true
    )]
    pub web_token: Option<String>,
    /// Start the test at once with -u, -r, -t and --class, and keep serving the web UI.
    #[arg(long, conflicts_with = "headless")]
    pub autostart: bool,
    /// With --autostart: quit SECONDS after the run ends (by its run time or a stop).
    #[arg(long, value_name = "SECONDS", requires = "autostart")]
    pub autoquit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct MasterArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub capacity: CapacityArgs,
    /// No web UI: wait for the workers, run, stop at --run-time.
    #[arg(long)]
    pub headless: bool,
    #[command(flatten)]
    pub web: WebArgs,
    /// Start once this many workers are connected.
    #[arg(
        long = "expect-workers",
        default_value_t = 1,
        env = "STAMPEDE_EXPECT_WORKERS"
    )]
    pub expect_workers: usize,
    /// Give up (exit 3) when the workers are not all there after this long.
    #[arg(long = "expect-workers-max-wait", value_parser = duration)]
    pub expect_workers_max_wait: Option<Duration>,
    /// Address the workers connect to.
    #[arg(long, default_value = "0.0.0.0:5557", env = "STAMPEDE_BIND")]
    pub bind: String,
    /// Keep the run's state in DIR (headless), so that the master started
    /// again with the same command resumes the run in progress.
    #[arg(
        long = "state-dir",
        value_name = "DIR",
        requires = "headless",
        env = "STAMPEDE_STATE_DIR"
    )]
    pub state_dir: Option<PathBuf>,
    /// With --state-dir: set aside a run the dir holds (into DIR/old-RUNID/)
    /// and start a new one.
    #[arg(long, requires = "state_dir", env = "STAMPEDE_FRESH")]
    pub fresh: bool,
    /// Shared cluster token workers must present.
    #[arg(
        long,
        env = "STAMPEDE_TOKEN",
        hide_env_values = true,
        default_value = ""
    )]
    pub token: String,
    /// PEM certificate: serve the workers over TLS (with --tls-key).
    #[arg(long = "tls-cert", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long = "tls-key", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve /healthz and /readyz on this address, for probes.
    #[arg(
        long = "health-listen",
        value_name = "ADDR",
        env = "STAMPEDE_HEALTH_LISTEN"
    )]
    pub health_listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The master's gRPC address, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:5557", env = "STAMPEDE_MASTER", value_parser = master_address)]
    pub master: String,
    /// Shared cluster token.
    #[arg(
        long,
        env = "STAMPEDE_TOKEN",
        hide_env_values = true,
        default_value = ""
    )]
    pub token: String,
    /// PEM CA that signed the master's certificate: connect over TLS.
    #[arg(long = "tls-ca")]
    pub tls_ca: Option<PathBuf>,
    /// Name expected in the master's certificate (default: the master's host).
    #[arg(long = "tls-domain")]
    pub tls_domain: Option<String>,
    /// Worker id, stable across reconnects (default: host name, process id and a random suffix).
    #[arg(long, env = "STAMPEDE_WORKER_ID")]
    pub id: Option<String>,
    /// Stop the load when the master has been unreachable this long (long
    /// enough for a master's container to restart and resume its run).
    #[arg(long = "master-timeout", value_parser = duration, default_value = "60s")]
    pub master_timeout: Duration,
    /// Serve /healthz (alive) and /readyz (attached to a master) on this address, for probes.
    #[arg(
        long = "health-listen",
        value_name = "ADDR",
        env = "STAMPEDE_HEALTH_LISTEN"
    )]
    pub health_listen: Option<String>,
    /// This worker's own proxy; with it (or with HTTP_PROXY, HTTPS_PROXY
    /// set here) the worker ignores the proxies the master ships.
    #[command(flatten)]
    pub proxy: ProxyArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario file (YAML); `-` reads standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The locustfile (Python); `-` reads standard input.
    #[arg(value_name = "LOCUSTFILE")]
    pub file: String,
    /// Write the scenario here (standard output otherwise).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Fail (exit 2, nothing written) when anything could not be translated.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Concurrent users.
    #[arg(short = 'u', long, default_value_t = 200)]
    pub users: u64,
    /// Users started per second.
    #[arg(short = 'r', long = "spawn-rate", default_value = "50", value_parser = positive_rate)]
    pub spawn_rate: f64,
    /// How long to run.
    #[arg(short = 't', long = "run-time", value_parser = duration, default_value = "30s")]
    pub run_time: Duration,
    /// Latency the shop adds to each API request (e.g. 20ms..80ms, or 0ms).
    #[arg(long, default_value = "10ms..50ms", value_parser = latency)]
    pub latency: Latency,
    /// Fraction of API requests the shop answers with 500.
    #[arg(long = "error-rate", default_value_t = 0.0)]
    pub error_rate: f64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ShopArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: String,
    /// Latency added to each API request: a fixed 50ms or a range 20ms..80ms.
    #[arg(long, value_parser = latency_range)]
    pub latency: Option<LatencyRange>,
    /// Fraction of API requests answered with 500 (0.0 to 1.0).
    #[arg(long = "error-rate", default_value_t = 0.0)]
    pub error_rate: f64,
    /// Extra latency for the paths under a prefix, on top of --latency: one
    /// slow endpoint (repeatable; the first matching prefix applies).
    #[arg(long, value_name = "PREFIX=LATENCY", value_parser = slow_route)]
    pub slow: Vec<(String, LatencyRange)>,
    /// Serve at most N API requests at once; the rest wait their turn. With a
    /// fixed --latency the shop's capacity is N / latency requests per second.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        Cli::try_parse_from(["stampede"].iter().chain(args))
            .map(|c| c.command)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn values_are_typed_when_parsed() {
        let Command::Run(run) = parse(&[
            "run",
            "-f",
            "s.yaml",
            "-H",
            "http://h:1",
            "--stages",
            "1m:10",
            "--threshold",
            "p95<2s",
            "--request-timeout",
            "5s",
            "--workers",
            "3",
        ])
        .unwrap() else {
            panic!("run")
        };
        assert_eq!(run.load.host.unwrap().to_string(), "http://h:1");
        assert_eq!(run.load.stages.unwrap().total(), Duration::from_secs(60));
        assert_eq!(run.output.thresholds[0].source, "p95<2s");
        assert_eq!(run.load.request_timeout, Duration::from_secs(5));
        assert_eq!(run.workers, 3);
        let Command::Demo(demo) = parse(&["demo", "--latency", "0ms"]).unwrap() else {
            panic!("demo")
        };
        assert_eq!(demo.latency, Latency(None));
        let Command::Demo(demo) = parse(&["demo"]).unwrap() else {
            panic!("demo")
        };
        assert!(demo.latency.0.is_some(), "the demo's default latency");
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, want) in [
            (
                &["run", "-f", "s", "-H", "localhost:1"][..],
                "'--host <HOST>': invalid host `localhost:1`",
            ),
            (
                &["run", "-f", "s", "--stages", "x"],
                "'--stages <STAGES>': invalid stages `x`",
            ),
            (
                &[
                    "run",
                    "-f",
                    "s",
                    "--arrival-rate",
                    "5/s",
                    "--stages",
                    "1m:1",
                ],
                "cannot be used with",
            ),
            (&["run", "-f", "s", "-r", "0"], "invalid spawn rate `0`"),
            (
                &["run", "-f", "s", "--request-timeout", "0s"],
                "must be above zero",
            ),
            (
                &["worker", "--master", "h:99999"],
                "invalid master address `h:99999`",
            ),
            (&["worker", "--master", "h"], "invalid master address `h`"),
            (&["demo", "--latency", "fast"], "invalid latency `fast`"),
            (
                &["shop", "--latency", "fast"],
                "'--latency <LATENCY>': invalid latency `fast`",
            ),
            (&["master", "-f", "s", "--tls-cert", "c"], "--tls-key"),
            (&["run", "-f", "s", "--autoquit", "1"], "--autostart"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
        assert!(parse(&["worker", "--master", "https://h:5557"]).is_ok());
        assert!(parse(&["worker", "--master", "[::1]:5557"]).is_ok());
    }
}
