//! Name resolution for a worker's connections: each `host:port` is looked
//! up once and its addresses kept for [`REFRESH`], so ten thousand users
//! connecting to one target make one lookup, not ten thousand, and a name
//! that moves (a blue/green switch, a load balancer's new address) is
//! followed within that time. A host override (`--resolve`) and an address
//! literal never reach the resolver.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::HttpError;

/// How long a lookup's addresses are used before the name is looked up again.
pub const REFRESH: Duration = Duration::from_secs(30);

/// `host:port` → its addresses and when they were looked up.
type Cache = HashMap<(Box<str>, u16), (Arc<[SocketAddr]>, Instant)>;

/// Names a worker looked up, with their addresses.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    cache: Mutex<Cache>,
}

impl Resolver {
    /// The addresses of `host:port`, from the cache while fresh.
    pub async fn lookup(&self, host: &str, port: u16) -> Result<Arc<[SocketAddr]>, HttpError> {
        let now = Instant::now();
        if let Some((addrs, at)) = self.lock().get(&(host.into(), port))
            && now.duration_since(*at) < REFRESH
        {
            return Ok(Arc::clone(addrs));
        }
        let addrs: Arc<[SocketAddr]> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| HttpError::Dns(super::error::lowercase_first(&e.to_string())))?
            .collect();
        if addrs.is_empty() {
            return Err(HttpError::Dns(format!("no address found for `{host}`")));
        }
        self.lock()
            .insert((host.into(), port), (Arc::clone(&addrs), Instant::now()));
        Ok(addrs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The map stays consistent whatever panicked while holding it.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_name_is_looked_up_once_per_refresh() {
        let r = Resolver::default();
        let first = r.lookup("localhost", 80).await.unwrap();
        assert!(first.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
        let again = r.lookup("localhost", 80).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "served from the cache");
        tokio::time::advance(REFRESH).await;
        let later = r.lookup("localhost", 80).await.unwrap();
        assert!(
            !Arc::ptr_eq(&first, &later),
            "looked up again after the refresh"
        );
        assert!(matches!(
            r.lookup("no-such-host.invalid", 80).await,
            Err(HttpError::Dns(_))
        ));
    }
}
