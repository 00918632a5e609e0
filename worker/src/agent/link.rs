//! The gRPC side of the link: the endpoint (TLS to the master), the attach
//! handshake, and building messages.

use std::time::Duration;

use stampede_proto::v1::coordinator_client::CoordinatorClient;
use stampede_proto::v1::{self, worker_message};
use stampede_proto::{MAX_MASTER_MESSAGE, PROTOCOL_VERSION};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use super::config::{AgentConfig, AgentError};

/// Why an attach failed.
pub(super) enum ConnectError {
    /// Wrong token or protocol version: final.
    Refused(String),
    /// Anything else: retry.
    Failed(String),
}

/// An attached stream: what to send on, what comes back.
pub(super) type Stream = (
    mpsc::Sender<v1::WorkerMessage>,
    tonic::Streaming<v1::MasterMessage>,
);

/// The master's endpoint, checked once.
///
/// # Errors
///
/// An unusable master URL or TLS settings.
pub(super) fn endpoint(cfg: &AgentConfig) -> Result<Endpoint, AgentError> {
    let mut ep = Endpoint::from_shared(cfg.master_url.clone())
        .map_err(|e| AgentError::Config(format!("{}: {e}", cfg.master_url)))?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true);
    if let Some(ca) = &cfg.tls_ca {
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
        if let Some(d) = &cfg.tls_domain {
            tls = tls.domain_name(d.clone());
        }
        ep = ep
            .tls_config(tls)
            .map_err(|e| AgentError::Config(e.to_string()))?;
    }
    Ok(ep)
}

/// Connects and attaches with a `Hello`.
pub(super) async fn connect(
    cfg: &AgentConfig,
    endpoint: &Endpoint,
) -> Result<Stream, ConnectError> {
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| ConnectError::Failed(error_chain(&e)))?;
    let (tx, rx) = mpsc::channel(256);
    let hello = v1::Hello {
        worker_id: cfg.worker_id.clone(),
        protocol_version: PROTOCOL_VERSION,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        hostname: hostname(),
        token: cfg.token.clone(),
    };
    let _ = tx.send(msg(worker_message::Kind::Hello(hello))).await;
    let mut client = CoordinatorClient::new(channel).max_decoding_message_size(MAX_MASTER_MESSAGE);
    match client.attach(ReceiverStream::new(rx)).await {
        Ok(resp) => Ok((tx, resp.into_inner())),
        Err(s)
            if matches!(
                s.code(),
                tonic::Code::Unauthenticated | tonic::Code::FailedPrecondition
            ) =>
        {
            Err(ConnectError::Refused(s.message().to_owned()))
        }
        Err(s) => Err(ConnectError::Failed(s.message().to_owned())),
    }
}

/// A worker message of `kind`.
pub(super) fn msg(kind: worker_message::Kind) -> v1::WorkerMessage {
    v1::WorkerMessage { kind: Some(kind) }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// This machine's host name, for the master's worker table.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
