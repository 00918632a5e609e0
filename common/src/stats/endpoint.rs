//! [`EndpointStats`]: the mergeable summary of one endpoint over some span
//! (an interval, a second, a whole run): counts, exact min/max/sum, and an HDR
//! histogram of response times in microseconds. Stats read off the wire keep
//! only their non-empty buckets (`wire`), so merging a report into the
//! master's totals touches just those.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};

use super::layout::{HistogramError, MAX_MICROS, SIGFIG};

/// Counts and latency of one endpoint over a span of time.
#[derive(Debug, Clone)]
pub struct EndpointStats {
    /// Requests, failed or not.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Sum of response body sizes.
    pub content_bytes: u64,
    /// Sum of response times, for an exact average.
    pub total_micros: u64,
    /// Exact fastest response (`u64::MAX` when empty).
    pub min_micros: u64,
    /// Exact slowest response.
    pub max_micros: u64,
    buckets: Buckets,
}

/// The latency histogram: dense to record into and merge into, or, for stats
/// off the wire, just the non-empty buckets as (value, count).
#[derive(Debug, Clone)]
enum Buckets {
    Dense(Histogram<u64>),
    Sparse(Vec<(u64, u64)>),
}

fn dense() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, SIGFIG).expect("static bounds are valid")
}

impl PartialEq for EndpointStats {
    /// Equal counters and equal bucket counts, however they are held.
    fn eq(&self, other: &Self) -> bool {
        (
            self.requests,
            self.failures,
            self.content_bytes,
            self.total_micros,
            self.min_micros,
            self.max_micros,
        ) == (
            other.requests,
            other.failures,
            other.content_bytes,
            other.total_micros,
            other.min_micros,
            other.max_micros,
        ) && *self.histogram() == *other.histogram()
    }
}

impl Default for EndpointStats {
    fn default() -> Self {
        Self::new()
    }
}

impl EndpointStats {
    /// Empty stats.
    pub fn new() -> Self {
        Self {
            requests: 0,
            failures: 0,
            content_bytes: 0,
            total_micros: 0,
            min_micros: u64::MAX,
            max_micros: 0,
            buckets: Buckets::Dense(dense()),
        }
    }

    /// The dense histogram (built from the buckets for stats off the wire).
    fn histogram(&self) -> std::borrow::Cow<'_, Histogram<u64>> {
        match &self.buckets {
            Buckets::Dense(h) => std::borrow::Cow::Borrowed(h),
            Buckets::Sparse(pairs) => {
                let mut h = dense();
                for &(value, count) in pairs {
                    let _ = h.record_n(value, count);
                }
                std::borrow::Cow::Owned(h)
            }
        }
    }

    /// The dense histogram to record or merge into.
    fn dense_mut(&mut self) -> &mut Histogram<u64> {
        if let Buckets::Sparse(_) = self.buckets {
            self.buckets = Buckets::Dense(self.histogram().into_owned());
        }
        match &mut self.buckets {
            Buckets::Dense(h) => h,
            Buckets::Sparse(_) => unreachable!("made dense above"),
        }
    }

    /// Records one request.
    pub fn record(&mut self, micros: u64, content_bytes: u64, failed: bool) {
        self.requests += 1;
        self.failures += u64::from(failed);
        self.content_bytes += content_bytes;
        self.total_micros += micros;
        self.min_micros = self.min_micros.min(micros);
        self.max_micros = self.max_micros.max(micros);
        self.dense_mut()
            .saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// Adds another span's stats into this one. Exact: the histograms add
    /// bucket by bucket, so percentiles equal those of one histogram of all
    /// the samples.
    pub fn merge(&mut self, other: &EndpointStats) {
        // Saturating: only a hostile worker's counts come near the end of u64.
        self.requests = self.requests.saturating_add(other.requests);
        self.failures = self.failures.saturating_add(other.failures);
        self.content_bytes = self.content_bytes.saturating_add(other.content_bytes);
        self.total_micros = self.total_micros.saturating_add(other.total_micros);
        self.min_micros = self.min_micros.min(other.min_micros);
        self.max_micros = self.max_micros.max(other.max_micros);
        // Same bounds on both sides, so neither can fail; stats off the wire
        // add only their non-empty buckets.
        let into = self.dense_mut();
        match &other.buckets {
            Buckets::Dense(h) => {
                let _ = into.add(h);
            }
            Buckets::Sparse(pairs) => {
                for &(value, count) in pairs {
                    let _ = into.record_n(value, count);
                }
            }
        }
    }

    /// Empties the stats, keeping the histogram's allocation.
    pub fn reset(&mut self) {
        self.requests = 0;
        self.failures = 0;
        self.content_bytes = 0;
        self.total_micros = 0;
        self.min_micros = u64::MAX;
        self.max_micros = 0;
        match &mut self.buckets {
            Buckets::Dense(h) => h.reset(),
            Buckets::Sparse(pairs) => pairs.clear(),
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.requests == 0
    }

    /// Response time at quantile `q` (0..=1) in milliseconds; `q == 1` is the
    /// exact max. Zero when empty.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.percentiles_ms(&[q])[0]
    }

    /// Response times at each of `qs`, as [`percentile_ms`](Self::percentile_ms);
    /// stats off the wire build their histogram once for all of them.
    pub fn percentiles_ms(&self, qs: &[f64]) -> Vec<f64> {
        if self.is_empty() {
            return vec![0.0; qs.len()];
        }
        let h = qs.iter().any(|q| *q < 1.0).then(|| self.histogram());
        let at = |q: f64| match &h {
            Some(h) if q < 1.0 => h
                .value_at_quantile(q)
                .min(self.max_micros)
                .max(self.min_micros),
            _ => self.max_micros,
        };
        qs.iter().map(|q| at(*q) as f64 / 1000.0).collect()
    }

    /// Exact average response time in milliseconds.
    pub fn avg_ms(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.total_micros as f64 / self.requests as f64 / 1000.0
        }
    }

    /// Exact minimum in milliseconds (zero when empty).
    pub fn min_ms(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.min_micros as f64 / 1000.0
        }
    }

    /// Exact maximum in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.max_micros as f64 / 1000.0
    }

    /// Average response size in bytes.
    pub fn avg_content(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.content_bytes as f64 / self.requests as f64
        }
    }

    /// The histogram as HdrHistogram V2+DEFLATE bytes, for the wire.
    ///
    /// # Errors
    ///
    /// Only if the serializer fails, which it does not for valid histograms.
    pub fn encode_histogram(&self) -> Result<Vec<u8>, HistogramError> {
        let mut buf = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&*self.histogram(), &mut buf)
            .map_err(|e| HistogramError(format!("encode: {e:?}").to_lowercase()))?;
        Ok(buf)
    }

    /// The histogram as HdrHistogram V2 bytes without DEFLATE: cheaper to
    /// make than [`EndpointStats::encode_histogram`] (runs of empty buckets
    /// are still one number each), for state saved every second.
    ///
    /// # Errors
    ///
    /// Only if the serializer fails, which it does not for valid histograms.
    pub fn encode_histogram_plain(&self) -> Result<Vec<u8>, HistogramError> {
        let mut buf = Vec::new();
        V2Serializer::new()
            .serialize(&*self.histogram(), &mut buf)
            .map_err(|e| HistogramError(format!("encode: {e:?}").to_lowercase()))?;
        Ok(buf)
    }

    /// Rebuilds stats from the wire: counters plus an encoded histogram.
    ///
    /// # Errors
    ///
    /// Bytes that are not a V2 (optionally DEFLATE) histogram, or a histogram
    /// whose count disagrees with `requests`.
    pub fn from_wire(
        requests: u64,
        failures: u64,
        content_bytes: u64,
        total_micros: u64,
        min_micros: u64,
        max_micros: u64,
        histogram: &[u8],
    ) -> Result<Self, HistogramError> {
        let (pairs, total) = super::wire::decode(histogram)?;
        if total != requests {
            return Err(HistogramError(format!(
                "holds {total} samples but the report says {requests}"
            )));
        }
        Ok(Self {
            requests,
            failures,
            content_bytes,
            total_micros,
            min_micros,
            max_micros,
            buckets: Buckets::Sparse(pairs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percentiles_are_exact_to_three_digits() {
        let mut s = EndpointStats::new();
        for ms in 1..=1000u64 {
            s.record(ms * 1000, 10, ms % 100 == 0);
        }
        assert_eq!(s.requests, 1000);
        assert_eq!(s.failures, 10);
        assert!(
            (s.percentile_ms(0.5) - 500.0).abs() <= 0.5,
            "{}",
            s.percentile_ms(0.5)
        );
        assert!((s.percentile_ms(0.99) - 990.0).abs() <= 1.0);
        assert_eq!(s.percentile_ms(1.0), 1000.0);
        let one_by_one: Vec<f64> = [0.0, 0.5, 0.99, 1.0].map(|q| s.percentile_ms(q)).into();
        assert_eq!(s.percentiles_ms(&[0.0, 0.5, 0.99, 1.0]), one_by_one);
        assert_eq!(one_by_one[0], 1.0);
        assert_eq!(EndpointStats::new().percentiles_ms(&[0.5, 1.0]), [0.0, 0.0]);
        assert_eq!(s.min_ms(), 1.0);
        assert!((s.avg_ms() - 500.5).abs() < 1e-9);
    }

    #[test]
    fn wire_round_trip() {
        let mut s = EndpointStats::new();
        for v in [5u64, 70, 900, 12_000, 4_000_000_000] {
            s.record(v, 3, false);
        }
        let bytes = s.encode_histogram().unwrap();
        let back = EndpointStats::from_wire(
            s.requests,
            0,
            15,
            s.total_micros,
            s.min_micros,
            s.max_micros,
            &bytes,
        )
        .unwrap();
        assert_eq!(back, s);
        // Sparse buckets answer as the dense histogram does.
        let qs = [0.1, 0.5, 0.9, 0.99, 1.0];
        assert_eq!(back.percentiles_ms(&qs), s.percentiles_ms(&qs));
        assert!(EndpointStats::from_wire(1, 0, 0, 0, 0, 0, b"garbage").is_err());
        assert!(EndpointStats::from_wire(99, 0, 0, 0, 0, 0, &bytes).is_err());
    }

    #[test]
    fn reset_empties() {
        let mut s = EndpointStats::new();
        s.record(10, 1, true);
        s.reset();
        assert_eq!(s, EndpointStats::new());
    }

    proptest! {
        /// Merging histograms of any split of the samples gives the same
        /// percentiles as one histogram of all samples.
        #[test]
        fn merge_of_random_splits_equals_one_histogram(
            samples in prop::collection::vec((1u64..120_000_000, 0usize..4), 1..400)
        ) {
            let mut whole = EndpointStats::new();
            let mut parts = vec![EndpointStats::new(); 4];
            for (v, part) in &samples {
                whole.record(*v, 1, false);
                parts[*part].record(*v, 1, false);
            }
            let mut merged = EndpointStats::new();
            for p in &parts {
                let wire = EndpointStats::from_wire(p.requests, p.failures, p.content_bytes, p.total_micros, p.min_micros, p.max_micros, &p.encode_histogram().unwrap()).unwrap();
                merged.merge(&wire);
            }
            prop_assert_eq!(&merged, &whole);
            for q in crate::stats::PERCENTILES {
                prop_assert_eq!(merged.percentile_ms(q), whole.percentile_ms(q));
            }
        }
    }
}
