//! A run's merged statistics as durable state, for a master that resumes a
//! run after a crash: [`SavedStats`] holds everything of [`RunStats`] but
//! the closed seconds of its history (which the master appends to a log of
//! their own as they close, so that the snapshot it rewrites every second
//! stays the size of the endpoints, not of the run's length). Histograms are
//! kept as HdrHistogram V2 (without DEFLATE: cheaper to make every second),
//! base64 in JSON.

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::aggregate::{FailureEntry, OpenModel, RunStats};
use super::history::{Bucket, History, HistoryPoint, Load};
use super::{Capped, EndpointStats, FailureKey, StatsKey};

/// [`EndpointStats`] as stored.
#[derive(Debug, Serialize, Deserialize)]
struct StoredEndpoint {
    requests: u64,
    failures: u64,
    content_bytes: u64,
    total_micros: u64,
    min_micros: u64,
    max_micros: u64,
    histogram: String,
}

impl Serialize for EndpointStats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self
            .encode_histogram_plain()
            .map_err(serde::ser::Error::custom)?;
        StoredEndpoint {
            requests: self.requests,
            failures: self.failures,
            content_bytes: self.content_bytes,
            total_micros: self.total_micros,
            min_micros: self.min_micros,
            max_micros: self.max_micros,
            histogram: STANDARD.encode(bytes),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for EndpointStats {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let e = StoredEndpoint::deserialize(d)?;
        let bytes = STANDARD
            .decode(&e.histogram)
            .map_err(serde::de::Error::custom)?;
        let stored = EndpointStats::from_wire(
            e.requests,
            e.failures,
            e.content_bytes,
            e.total_micros,
            e.min_micros,
            e.max_micros,
            &bytes,
        )
        .map_err(serde::de::Error::custom)?;
        // Dense again, to merge into.
        let mut dense = EndpointStats::new();
        dense.merge(&stored);
        Ok(dense)
    }
}

type Keyed = Vec<(StatsKey, EndpointStats)>;

/// Everything of [`RunStats`] but its closed seconds.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedStats {
    started: SystemTime,
    endpoints: Keyed,
    total: EndpointStats,
    failures: Vec<(FailureKey, FailureEntry)>,
    exceptions: Vec<(String, u64)>,
    service: Keyed,
    service_total: Option<EndpointStats>,
    iterations: u64,
    dropped: u64,
    history: SavedHistory,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedBucket {
    endpoints: Keyed,
    total: EndpointStats,
    iterations: u64,
    dropped: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedHistory {
    next: u64,
    open: Vec<(u64, SavedBucket)>,
    closed: Keyed,
    closed_total: EndpointStats,
    load: Vec<(u64, Load)>,
    last_load: Load,
}

fn keyed(m: &BTreeMap<StatsKey, EndpointStats>) -> Keyed {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl SavedStats {
    /// The seconds before this one are in the history log; a point of the
    /// log at or after it was written after this snapshot, and is dropped.
    pub fn next_second(&self) -> u64 {
        self.history.next
    }
}

impl RunStats {
    /// The state to save (all but the closed seconds: [`RunStats::history`]).
    pub fn save(&self) -> SavedStats {
        let h = &self.history;
        SavedStats {
            started: self.started,
            endpoints: keyed(&self.endpoints),
            total: self.total.clone(),
            failures: self
                .failures
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            exceptions: self
                .exceptions
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            service: keyed(&self.open.service),
            service_total: self.open.service_total.clone(),
            iterations: self.open.iterations,
            dropped: self.open.dropped,
            history: SavedHistory {
                next: h.next,
                open: h
                    .open
                    .iter()
                    .map(|(s, b)| {
                        let saved = SavedBucket {
                            endpoints: keyed(&b.endpoints),
                            total: b.total.clone(),
                            iterations: b.iterations,
                            dropped: b.dropped,
                        };
                        (*s, saved)
                    })
                    .collect(),
                closed: keyed(&h.closed),
                closed_total: h.closed_total.clone(),
                load: h.load.iter().map(|(s, l)| (*s, *l)).collect(),
                last_load: h.last_load,
            },
        }
    }

    /// The stats `saved` holds, with the closed seconds of the history log
    /// (those the snapshot knows of; later ones are dropped, as their
    /// numbers are still in the snapshot's open seconds).
    pub fn restore(saved: SavedStats, mut points: Vec<HistoryPoint>) -> Self {
        let h = saved.history;
        let until_ms = i64::try_from(h.next.saturating_mul(1000)).unwrap_or(i64::MAX);
        points.retain(|p| p.unix_ms <= until_ms);
        let mut history = History::new(saved.started);
        history.next = h.next;
        history.points = points;
        history.open = h
            .open
            .into_iter()
            .map(|(s, b)| {
                let bucket = Bucket {
                    endpoints: b.endpoints.into_iter().collect(),
                    total: b.total,
                    iterations: b.iterations,
                    dropped: b.dropped,
                };
                (s, bucket)
            })
            .collect();
        history.closed = h.closed.into_iter().collect();
        history.closed_total = h.closed_total;
        history.load = h.load.into_iter().collect();
        history.last_load = h.last_load;
        Self {
            started: saved.started,
            endpoints: saved.endpoints.into_iter().collect(),
            total: saved.total,
            failures: saved.failures.into_iter().collect(),
            exceptions: saved.exceptions.into_iter().collect(),
            history,
            open: OpenModel {
                service: saved.service.into_iter().collect(),
                service_total: saved.service_total,
                iterations: saved.iterations,
                dropped: saved.dropped,
            },
            // Warned about again if reached again: at most once more.
            capped: Capped::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Measured, Recorder};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn saved_and_restored_stats_are_the_same_stats() {
        let t0 = UNIX_EPOCH + Duration::from_millis(1_000_000_300);
        let mut run = RunStats::new(t0);
        let r = Recorder::new(vec![
            StatsKey::new("GET", "/a"),
            StatsKey::new("POST", "/b"),
        ]);
        for s in 0..5u64 {
            for i in 0..50 {
                r.record(
                    i % 2,
                    1000 + i as u64 * 37,
                    10,
                    (i % 7 == 0).then_some("boom"),
                );
            }
            let end = t0 + Duration::from_millis(700 + s * 1000);
            run.add(
                &r.take(),
                Measured::before(end, Duration::ZERO, Duration::from_secs(1)),
                end,
            );
            run.tick(end, Load::default());
        }
        let json = serde_json::to_string(&run.save()).unwrap();
        let points = run.history().to_vec();
        let back = RunStats::restore(serde_json::from_str(&json).unwrap(), points);
        let at = t0 + Duration::from_secs(6);
        assert_eq!(back.snapshot(at), run.snapshot(at));
        let (mut a, mut b) = (run.clone(), back);
        a.finish(at);
        b.finish(at);
        assert_eq!(a.history(), b.history());
    }
}
