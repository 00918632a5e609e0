//! HTTP/2 connections shared by a worker's users (`--http2-connections N`,
//! h2load's `-c`): per origin, N slots, each holding one connection that a
//! task of its own drives; user `i` sends on slot `i % N`, as many streams at
//! once as the server allows. Cookies, headers and redirects stay the
//! user's (its session); only the connection is shared. A slot's
//! connection is made by the first user that needs it while the others of
//! that slot wait, and made again when it has failed.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use ::h2::client::SendRequest;
use bytes::Bytes;

use super::HttpError;
use super::conn::Target;

/// One slot: how many connections it has had, and the handle of the last
/// one unless that failed.
type Slot = tokio::sync::Mutex<(u64, Option<SendRequest<Bytes>>)>;

/// An origin: https, host, port.
type OriginKey = (bool, Box<str>, u16);

/// The shared connections of a worker.
#[derive(Debug)]
pub(crate) struct Pool {
    per_origin: NonZeroU32,
    origins: Mutex<HashMap<OriginKey, Arc<[Slot]>>>,
}

/// A handle on one shared connection.
#[derive(Debug)]
pub(crate) struct Lease {
    pub send: SendRequest<Bytes>,
    slots: Arc<[Slot]>,
    slot: usize,
    generation: u64,
}

impl Pool {
    pub fn new(per_origin: NonZeroU32) -> Self {
        Self {
            per_origin,
            origins: Mutex::new(HashMap::new()),
        }
    }

    /// The connection of `user`'s slot for `target`, made with `connect`
    /// (which returns the handle of a connection it has set driving) when
    /// the slot has none or a failed one.
    pub async fn lease<F>(
        &self,
        target: &Target<'_>,
        user: u64,
        connect: F,
    ) -> Result<Lease, HttpError>
    where
        F: AsyncFnOnce() -> Result<SendRequest<Bytes>, HttpError>,
    {
        let slots = {
            let mut origins = self.origins.lock().unwrap_or_else(|e| e.into_inner());
            let key = (target.https, target.host_str.into(), target.port);
            let n = self.per_origin.get() as usize;
            Arc::clone(
                origins
                    .entry(key)
                    .or_insert_with(|| (0..n).map(|_| Slot::default()).collect()),
            )
        };
        let slot = (user % slots.len() as u64) as usize;
        let mut held = slots[slot].lock().await;
        let alive = held.1.as_mut().is_some_and(|send| {
            let mut cx = Context::from_waker(Waker::noop());
            !matches!(send.poll_ready(&mut cx), Poll::Ready(Err(_)))
        });
        let live = match &held.1 {
            Some(send) if alive => send.clone(),
            _ => {
                let send = connect().await?;
                held.0 += 1;
                held.1 = Some(send.clone());
                send
            }
        };
        let generation = held.0;
        drop(held);
        Ok(Lease {
            send: live,
            slots,
            slot,
            generation,
        })
    }
}

impl Lease {
    /// Forgets the connection (it failed before answering), unless another
    /// user has already replaced it.
    pub async fn discard(self) {
        let mut held = self.slots[self.slot].lock().await;
        if held.0 == self.generation {
            held.1 = None;
        }
    }
}
