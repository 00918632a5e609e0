//! A sharded, fixed-capacity store keyed by sequential ids, dropping the oldest entries.
//!
//! Ids come from one atomic counter (starting at 1). Entry `id` lives in shard `id % shards`
//! at slot `(id / shards) % per_shard`, so a new entry overwrites the one `capacity` ids
//! older: memory stays bounded and nothing needs a separate eviction queue.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sync::lock;

#[derive(Debug)]
struct Slot<T> {
    id: u64,
    value: T,
}

/// One shard's slots, grown lazily up to `per_shard`.
type Shard<T> = Mutex<Vec<Option<Slot<T>>>>;

#[derive(Debug)]
pub(crate) struct Ring<T> {
    shards: Box<[Shard<T>]>,
    per_shard: usize,
    next: AtomicU64,
}

impl<T> Ring<T> {
    /// A ring holding at most about `capacity` entries (rounded up to a multiple of `shards`).
    pub(crate) fn new(capacity: usize, shards: usize) -> Self {
        let shards = shards.max(1);
        let per_shard = capacity.div_ceil(shards).max(1);
        Self {
            shards: (0..shards).map(|_| Mutex::new(Vec::new())).collect(),
            per_shard,
            next: AtomicU64::new(1),
        }
    }

    fn locate(&self, id: u64) -> (usize, usize) {
        let shards = self.shards.len() as u64;
        let shard = (id % shards) as usize;
        let slot = ((id / shards) % self.per_shard as u64) as usize;
        (shard, slot)
    }

    /// Stores a new entry built from its freshly assigned id and returns that id.
    pub(crate) fn insert_with(&self, make: impl FnOnce(u64) -> T) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let value = make(id);
        let (shard, slot) = self.locate(id);
        let mut slots = lock(&self.shards[shard]);
        if slot >= slots.len() {
            slots.resize_with(slot + 1, || None);
        }
        let current = &mut slots[slot];
        // a slower insert of an older id must not clobber a newer entry
        if current.as_ref().is_none_or(|s| s.id < id) {
            *current = Some(Slot { id, value });
        }
        id
    }

    /// Runs `f` on the entry with this id, if it is still stored.
    pub(crate) fn with<R>(&self, id: u64, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let (shard, slot) = self.locate(id);
        let mut slots = lock(&self.shards[shard]);
        match slots.get_mut(slot) {
            Some(Some(entry)) if entry.id == id => Some(f(&mut entry.value)),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| lock(s).iter().filter(|e| e.is_some()).count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_newest_entries() {
        let ring = Ring::new(8, 2);
        let ids: Vec<u64> = (0..20).map(|i| ring.insert_with(|id| (id, i))).collect();
        assert_eq!(ids, (1..=20).collect::<Vec<_>>());
        assert_eq!(ring.len(), 8);
        for id in 1..=12 {
            assert_eq!(ring.with(id, |v| v.0), None, "id {id} should be evicted");
        }
        for id in 13..=20 {
            assert_eq!(ring.with(id, |v| v.0), Some(id));
        }
        assert_eq!(ring.with(0, |v| v.0), None);
        assert_eq!(ring.with(21, |v| v.0), None);
    }

    #[test]
    fn with_mutates_in_place() {
        let ring = Ring::new(4, 4);
        let id = ring.insert_with(|_| 1u32);
        ring.with(id, |v| *v += 1);
        assert_eq!(ring.with(id, |v| *v), Some(2));
    }
}
