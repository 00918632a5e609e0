//! The gRPC `Coordinator` service: thin handlers that check the handshake
//! (protocol version, cluster token in constant time) and forward everything
//! to the actor. A refused worker gets a status that says why.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use stampede_proto::PROTOCOL_VERSION;
use stampede_proto::v1::coordinator_server::Coordinator;
use stampede_proto::v1::{self, worker_message};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, warn};

use super::actor::Command;

/// How long a new stream may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) struct CoordinatorService {
    pub actor: mpsc::Sender<Command>,
    pub token: Arc<str>,
    pub next_conn: AtomicU64,
}

/// Compares secrets without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len_diff = (a.len() ^ b.len()) as u8;
    let folded = a
        .iter()
        .zip(b.iter().cycle())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    (len_diff | folded) == 0 && a.len() == b.len()
}

#[tonic::async_trait]
impl Coordinator for CoordinatorService {
    type AttachStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<v1::MasterMessage, Status>> + Send>>;

    async fn attach(
        &self,
        req: Request<Streaming<v1::WorkerMessage>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let peer = req
            .remote_addr()
            .map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        let mut inbound = req.into_inner();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello within 10s"))??
            .ok_or_else(|| Status::invalid_argument("the stream ended before hello"))?;
        let Some(worker_message::Kind::Hello(hello)) = first.kind else {
            warn!(peer = %peer, "refused a worker: the first message was not hello");
            return Err(Status::invalid_argument("the first message must be hello"));
        };
        if hello.worker_id.trim().is_empty() {
            return Err(Status::invalid_argument("hello has an empty worker_id"));
        }
        if hello.protocol_version != PROTOCOL_VERSION {
            let msg = format!(
                "protocol version mismatch: the worker speaks {}, the master speaks {PROTOCOL_VERSION}",
                hello.protocol_version
            );
            warn!(worker = %hello.worker_id, peer = %peer, "refused a worker: {msg}");
            return Err(Status::failed_precondition(msg));
        }
        if !constant_time_eq(hello.token.as_bytes(), self.token.as_bytes()) {
            warn!(worker = %hello.worker_id, peer = %peer, "refused a worker: invalid cluster token");
            return Err(Status::unauthenticated("invalid cluster token"));
        }
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(1024);
        let permit = self
            .actor
            .reserve()
            .await
            .map_err(|_| Status::unavailable("the master is shutting down"))?;
        permit.send(Command::Join { conn, hello, tx });
        let actor = self.actor.clone();
        tokio::spawn(async move {
            let quit = loop {
                match inbound.message().await {
                    Ok(Some(msg)) => {
                        if actor.send(Command::Message { conn, msg }).await.is_err() {
                            return;
                        }
                    }
                    // The worker closed its side: it is shutting down.
                    Ok(None) => break true,
                    Err(e) => {
                        debug!(conn, error = %e, "worker stream error");
                        break false;
                    }
                }
            };
            let _ = actor.send(Command::Left { conn, quit }).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
