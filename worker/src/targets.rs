//! Request URLs parsed once: [`UrlCache`] maps a step's rendered target (a
//! path appended to the base URL, or an absolute URL) to its parsed [`Url`],
//! so a constant path costs a map lookup and a clone per request instead of
//! a `format!` and a `Url::parse` (with its IDNA processing).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use url::Url;

/// Distinct targets kept; beyond that (templated paths with ever-new
/// values), new targets are parsed per request and not cached.
const MAX_ENTRIES: usize = 4096;

/// Parsed URLs of one worker, by base URL and target text.
///
/// A std `Mutex`: it is held for a lookup or an insert, never across an
/// `.await`.
#[derive(Debug, Default)]
pub(crate) struct UrlCache {
    inner: Mutex<Entries>,
}

/// Parsed URLs of one base URL, by target text.
type ByTarget = HashMap<Box<str>, Url>;

#[derive(Debug, Default)]
struct Entries {
    /// One map per base URL (a scenario has one per user class at most).
    by_base: Vec<(Box<str>, ByTarget)>,
    len: usize,
}

impl UrlCache {
    /// The URL of `target` requested against `base`.
    ///
    /// # Errors
    ///
    /// The message of an unparsable URL, as the failures table shows it.
    pub fn resolve(&self, base: &str, target: &str) -> Result<Url, String> {
        {
            let entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let found = entries
                .by_base
                .iter()
                .find(|(b, _)| &**b == base)
                .and_then(|(_, urls)| urls.get(target));
            if let Some(url) = found {
                return Ok(url.clone());
            }
        }
        let url = parse(base, target)?;
        let mut entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len < MAX_ENTRIES {
            let Entries { by_base, len } = &mut *entries;
            let i = match by_base.iter().position(|(b, _)| &**b == base) {
                Some(i) => i,
                None => {
                    by_base.push((base.into(), HashMap::new()));
                    by_base.len() - 1
                }
            };
            if by_base[i].1.insert(target.into(), url.clone()).is_none() {
                *len += 1;
            }
        }
        Ok(url)
    }
}

fn parse(base: &str, target: &str) -> Result<Url, String> {
    let full = if target.starts_with("http://") || target.starts_with("https://") {
        target.to_owned()
    } else {
        format!("{}{}", base.trim_end_matches('/'), target)
    };
    Url::parse(&full).map_err(|e| format!("invalid url `{full}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_and_absolute_targets_and_caches_them() {
        let cache = UrlCache::default();
        let url = cache.resolve("http://a.test/", "/x?y=1").unwrap();
        assert_eq!(url.as_str(), "http://a.test/x?y=1");
        let url = cache.resolve("http://b.test", "/x?y=1").unwrap();
        assert_eq!(url.as_str(), "http://b.test/x?y=1");
        let url = cache.resolve("http://a.test", "https://c.test/z").unwrap();
        assert_eq!(url.as_str(), "https://c.test/z");
        assert_eq!(cache.inner.lock().unwrap().len, 3);
        cache.resolve("http://a.test/", "/x?y=1").unwrap();
        assert_eq!(cache.inner.lock().unwrap().len, 3, "a hit adds nothing");
        let err = cache.resolve("http://a.test", "http://[::1").unwrap_err();
        assert!(err.starts_with("invalid url `http://[::1`: "), "{err}");
    }

    #[test]
    fn stops_caching_when_full() {
        let cache = UrlCache::default();
        for i in 0..MAX_ENTRIES + 10 {
            let url = cache.resolve("http://a.test", &format!("/{i}")).unwrap();
            assert_eq!(url.path(), format!("/{i}"));
        }
        assert_eq!(cache.inner.lock().unwrap().len, MAX_ENTRIES);
    }
}
