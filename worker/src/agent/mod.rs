//! The worker's link to its master: an explicit connected/disconnected state
//! machine. Connected, it runs what the master says (Prepare, Spawn, Stop,
//! in [`runs`]), heartbeats every second and reports every quarter second;
//! disconnected, it keeps measuring into the outbox, retries with a jittered
//! backoff, and stops its load when the master has been gone for
//! `master_timeout`.
//! Reports are resent until acknowledged, so nothing measured is lost or
//! counted twice.

mod backoff;
mod config;
mod cpu;
mod link;
mod outbox;
mod runs;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, warn};

use stampede_proto::v1;

pub use backoff::{Backoff, InvalidBackoff};
pub use config::{AgentConfig, AgentError, AgentStatus};
use link::ConnectError;
pub use link::hostname;
use runs::Agent;

// Only one `Conn` exists at a time; boxing the stream would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Conn {
    Connected {
        tx: mpsc::Sender<v1::WorkerMessage>,
        inbound: tonic::Streaming<v1::MasterMessage>,
        last_heard: Instant,
    },
    Disconnected {
        since: Instant,
        retry_at: Instant,
    },
}

/// Runs the worker until `shutdown`: connects, serves runs, reconnects.
///
/// # Errors
///
/// The master refused the worker, or the master address is unusable.
pub async fn run_agent(cfg: AgentConfig, shutdown: CancellationToken) -> Result<(), AgentError> {
    let endpoint = link::endpoint(&cfg)?;
    let mut backoff = cfg.backoff.clone();
    let mut agent = Agent::new(cfg);
    let mut conn = Conn::Disconnected {
        since: Instant::now(),
        retry_at: Instant::now(),
    };
    // On the clock's multiples of the interval, so that each report's numbers
    // lie within one second of the clock (the master's history buckets).
    let every = agent
        .cfg
        .report_interval
        .max(std::time::Duration::from_millis(10));
    let mut ticker = tokio::time::interval_at(next_multiple(every), every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        conn = match conn {
            Conn::Disconnected { since, retry_at } => tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {
                    agent.collect();
                    if since.elapsed() >= agent.cfg.master_timeout {
                        agent.begin_stop("the master is unreachable");
                    }
                    agent.poll_stopped();
                    Conn::Disconnected { since, retry_at }
                }
                _ = tokio::time::sleep_until(retry_at) => match link::connect(&agent.cfg, &endpoint).await {
                    Ok((tx, inbound)) => {
                        info!(master = %agent.cfg.master_url, "connected to the master");
                        agent.status.connected = true;
                        agent.status.connections += 1;
                        agent.status.last_error = None;
                        agent.publish();
                        backoff.reset();
                        agent.outbox.mark_all_unsent();
                        Conn::Connected { tx, inbound, last_heard: Instant::now() }
                    }
                    Err(ConnectError::Refused(msg)) => {
                        error!(reason = %msg, "the master refused this worker");
                        agent.status.last_error = Some(msg.clone());
                        agent.publish();
                        agent.shutdown().await;
                        return Err(AgentError::Refused(msg));
                    }
                    Err(ConnectError::Failed(msg)) => {
                        let delay = backoff.next_delay();
                        warn!(error = %msg, retry_in = ?delay, "cannot reach the master");
                        agent.status.last_error = Some(msg);
                        agent.publish();
                        Conn::Disconnected { since, retry_at: Instant::now() + delay }
                    }
                },
            },
            Conn::Connected {
                tx,
                mut inbound,
                mut last_heard,
            } => {
                let lost = tokio::select! {
                    _ = shutdown.cancelled() => {
                        agent.begin_stop("shutting down");
                        agent.finish_stop().await;
                        if agent.flush(&tx).await {
                            agent.drain_acks(&mut inbound).await;
                        }
                        break;
                    }
                    msg = inbound.message() => match msg {
                        Ok(Some(m)) => {
                            last_heard = Instant::now();
                            let span = agent.span();
                            agent.handle(m).instrument(span).await;
                            None
                        }
                        Ok(None) => Some("the master closed the stream".to_owned()),
                        Err(s) => Some(format!("stream error: {}", s.message())),
                    },
                    // Users stopped: report and confirm at once, not at the next tick.
                    _ = runs::stop_done(&mut agent) => {
                        agent.poll_stopped();
                        if agent.flush(&tx).await { None } else { Some("the master stream is closed".to_owned()) }
                    }
                    _ = ticker.tick() => {
                        agent.collect();
                        agent.poll_stopped();
                        if last_heard.elapsed() >= agent.cfg.silence_timeout {
                            Some(format!("no word from the master for {:?}", agent.cfg.silence_timeout))
                        } else if agent.flush(&tx).await {
                            None
                        } else {
                            Some("the master stream is closed".to_owned())
                        }
                    }
                };
                match lost {
                    None => Conn::Connected {
                        tx,
                        inbound,
                        last_heard,
                    },
                    Some(why) => {
                        warn!(reason = %why, "lost the master; measuring on and reconnecting");
                        agent.status.connected = false;
                        agent.status.last_error = Some(why);
                        agent.publish();
                        let delay = backoff.next_delay();
                        Conn::Disconnected {
                            since: Instant::now(),
                            retry_at: Instant::now() + delay,
                        }
                    }
                }
            }
        };
    }
    agent.shutdown().await;
    Ok(())
}

/// The next instant the clock is at a multiple of `every`.
fn next_multiple(every: std::time::Duration) -> Instant {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let every_ns = every.as_nanos().max(1);
    let left = every_ns - now.as_nanos() % every_ns;
    Instant::now() + std::time::Duration::from_nanos(left as u64)
}
