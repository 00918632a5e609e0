//! The master's side of one worker's stream: messages go straight onto it,
//! or, while it is full (a slow worker, a busy host), into a backlog sent
//! as the worker reads on. A slow worker is never dropped for being slow.
//! The backlog keeps only what still matters, so it stays small: a
//! heartbeat is left out (any message is one), and a newer `Ack` or
//! `Spawn` of a run takes the place of the older one.

use std::collections::VecDeque;

use stampede_proto::v1::{self, master_message::Kind};
use tokio::sync::mpsc::error::TrySendError;

use super::{Outbound, out};

/// A backlog this long means the worker reads nothing at all: drop it.
const MAX_BACKLOG: usize = 4096;

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    /// On the stream, with nothing waiting before it.
    Now,
    /// In the backlog; `true` if the backlog was empty until now.
    Later(bool),
    /// The stream is closed, or the worker reads nothing: drop it.
    Gone,
}

/// One worker's connection.
pub(super) struct Link {
    pub(super) conn: u64,
    tx: Outbound,
    backlog: VecDeque<v1::MasterMessage>,
}

impl Link {
    pub(super) fn new(conn: u64, tx: Outbound) -> Self {
        Self {
            conn,
            tx,
            backlog: VecDeque::new(),
        }
    }

    /// Messages waiting for the worker to read.
    pub(super) fn waiting(&self) -> usize {
        self.backlog.len()
    }

    pub(super) fn send(&mut self, kind: Kind) -> Sent {
        if self.backlog.is_empty() {
            match self.tx.try_send(out(kind)) {
                Ok(()) => return Sent::Now,
                Err(TrySendError::Closed(_)) => return Sent::Gone,
                Err(TrySendError::Full(m)) => {
                    self.backlog
                        .push_back(m.expect("the master sends no errors"));
                    return Sent::Later(true);
                }
            }
        }
        self.queue(kind)
    }

    fn queue(&mut self, kind: Kind) -> Sent {
        let same = |m: &v1::MasterMessage| match (&m.kind, &kind) {
            (Some(Kind::Ack(a)), Kind::Ack(b)) => a.run_id == b.run_id,
            (Some(Kind::Spawn(a)), Kind::Spawn(b)) => a.run_id == b.run_id,
            _ => false,
        };
        if matches!(kind, Kind::Heartbeat(_)) {
            return Sent::Later(false);
        }
        match self.backlog.iter().position(same) {
            Some(older) => self.backlog[older].kind = Some(kind),
            None if self.backlog.len() >= MAX_BACKLOG => return Sent::Gone,
            None => self
                .backlog
                .push_back(v1::MasterMessage { kind: Some(kind) }),
        }
        Sent::Later(false)
    }

    /// Sends what the backlog holds, as far as the stream takes it.
    pub(super) fn flush(&mut self) -> Sent {
        while let Some(m) = self.backlog.pop_front() {
            match self.tx.try_send(Ok(m)) {
                Ok(()) => {}
                Err(TrySendError::Closed(_)) => return Sent::Gone,
                Err(TrySendError::Full(m)) => {
                    self.backlog
                        .push_front(m.expect("the master sends no errors"));
                    return Sent::Later(false);
                }
            }
        }
        Sent::Now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn ack(seq: u64) -> Kind {
        Kind::Ack(v1::Ack { run_id: 1, seq })
    }

    #[test]
    fn a_full_stream_buffers_what_matters_and_flushes_in_order() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut link = Link::new(7, tx);
        assert_eq!(link.send(ack(1)), Sent::Now);
        assert_eq!(link.send(ack(2)), Sent::Later(true));
        assert_eq!(
            link.send(Kind::Stop(v1::Stop { run_id: 1 })),
            Sent::Later(false)
        );
        assert_eq!(
            link.send(Kind::Heartbeat(v1::Heartbeat {
                users: 0,
                cpu_percent: 0.0
            })),
            Sent::Later(false)
        );
        assert_eq!(link.send(ack(3)), Sent::Later(false));
        assert_eq!(link.waiting(), 2, "the newer ack replaced the older");
        let mut got = Vec::new();
        while link.waiting() > 0 || !rx.is_empty() {
            if let Ok(Ok(m)) = rx.try_recv() {
                got.push(m.kind.unwrap());
            }
            link.flush();
        }
        assert_eq!(
            got,
            vec![ack(1), ack(3), Kind::Stop(v1::Stop { run_id: 1 })]
        );
    }

    #[test]
    fn a_closed_stream_is_gone() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        assert_eq!(Link::new(1, tx).send(ack(1)), Sent::Gone);
    }
}
