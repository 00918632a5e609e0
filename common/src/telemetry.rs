//! Logging setup, done once by the binary: `RUST_LOG` (default `info`) to stderr.

use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber; later calls are no-ops.
pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
