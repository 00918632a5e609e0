//! The instruction budget: a per-thread count of Luau's interrupt points
//! (loop iterations and calls), reset at the start of every call. A call
//! runs on one thread from start to yield, so a thread's count is exact.

use std::cell::Cell;

thread_local! {
    static USED: Cell<u64> = const { Cell::new(0) };
    static LIMIT: Cell<u64> = const { Cell::new(u64::MAX) };
    static EXCEEDED: Cell<Option<u64>> = const { Cell::new(None) };
    static MEMORY_MIB: Cell<usize> = const { Cell::new(0) };
}

/// Starts a call with `limit` interrupt points to spend.
pub(crate) fn start(limit: u64, memory_bytes: usize) {
    USED.set(0);
    LIMIT.set(limit);
    EXCEEDED.set(None);
    MEMORY_MIB.set(memory_bytes >> 20);
}

/// Spends one interrupt point; false when the budget is gone.
pub(crate) fn spend() -> bool {
    let used = USED.get() + 1;
    USED.set(used);
    if used > LIMIT.get() {
        EXCEEDED.set(Some(LIMIT.get()));
        return false;
    }
    true
}

/// The budget the last call ran past, if it did.
pub(crate) fn exceeded() -> Option<u64> {
    EXCEEDED.get()
}

/// The memory limit of the state the last call ran in, in MiB.
pub(crate) fn memory_mib() -> usize {
    MEMORY_MIB.get()
}
