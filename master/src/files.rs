//! Files that a reader (a person, a dashboard, a master started again) may
//! read at any moment: written beside their place, then renamed into it, so
//! the file is always the old one or the new one, never half of one.

use std::path::Path;

/// Writes `bytes` to `path` by way of `path.partial` and a rename.
///
/// # Errors
///
/// The partial file cannot be written or renamed.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}
