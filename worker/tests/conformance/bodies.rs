//! The bodies the apps send and the static servers' files hold, built the
//! same way as in `apps/app.py` and `apps/app.js`, and their digests.

use std::hash::{DefaultHasher, Hasher};
use std::time::{Duration, SystemTime};

/// `/file` (and the apps' `/trickle`): 2000 bytes.
pub fn file() -> Vec<u8> {
    (0..2000u32).map(|i| ((i * 7 + 3) % 251) as u8).collect()
}

/// `/gzip`, `/deflate` and the apps' `/chunked`: compressible text.
pub fn text() -> Vec<u8> {
    (0..400)
        .flat_map(|i| format!("line {i:05} of the compressible conformance text\n").into_bytes())
        .collect()
}

/// `/big`: 10 MiB.
pub fn big() -> Vec<u8> {
    (0..10 * 1024 * 1024u32).map(|i| (i % 256) as u8).collect()
}

/// The static files' modification time: `Mon, 01 Jan 2024 00:00:00 GMT`.
pub fn last_modified() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)
}

pub const LAST_MODIFIED: &str = "Mon, 01 Jan 2024 00:00:00 GMT";

/// A body's length and hash: what the clients' outcomes compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest {
    pub len: usize,
    pub hash: u64,
}

pub fn digest(data: &[u8]) -> Digest {
    let mut h = DefaultHasher::new();
    h.write(data);
    Digest {
        len: data.len(),
        hash: h.finish(),
    }
}
