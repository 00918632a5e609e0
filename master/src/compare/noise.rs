//! When a difference between two runs is beyond noise. Each run must have
//! at least `min_samples` requests in the row. A percentile must change by
//! more than the margin, and, when both reports carry histograms, its 95%
//! confidence intervals must not overlap. The interval of quantile q over n
//! samples spans the values at ranks q ± 1.96·√(q(1−q)/n), read from the
//! exact histogram, with no assumption about the distribution; a
//! percentile with fewer than 10 samples beyond it (the max, a p99.99 of a
//! short run) is shown but never judged. Requests/s
//! and the average must change by more than the margin. A failure ratio
//! must differ by a two-proportion z-test at 95%. The margin covers what
//! repeated runs of one build differ by on a shared machine; measure it with
//! repeated runs and set it with `--noise`.

use serde::Serialize;

use super::Side;
use super::metric::{Metric, QUANTILES};

/// z of a two-sided 95% interval.
const Z95: f64 = 1.96;
/// Fewest samples beyond a percentile for it to be judged.
const MIN_TAIL: f64 = 10.0;

/// How differences are judged.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Noise {
    /// Smallest relative change that can count (0.10: 10%).
    pub margin: f64,
    /// Fewest requests a row needs in each run to judge it at all.
    pub min_samples: u64,
}

impl Default for Noise {
    fn default() -> Self {
        Self {
            margin: 0.10,
            min_samples: 100,
        }
    }
}

impl Noise {
    /// Whether `metric` differs between the rows beyond noise.
    pub fn beyond(&self, metric: Metric, base: &Side, new: &Side) -> bool {
        if base.requests < self.min_samples || new.requests < self.min_samples {
            return false;
        }
        let (b, n) = (metric.value(base), metric.value(new));
        let past_margin = |b: f64, n: f64| {
            if b == 0.0 {
                n != 0.0
            } else {
                ((n - b) / b).abs() > self.margin
            }
        };
        match metric {
            Metric::Rps | Metric::Avg => past_margin(b, n),
            Metric::FailRatio => two_proportions(base, new),
            Metric::Percentile(i) => {
                let q = QUANTILES[i].1;
                // A tail with few samples beyond it (the max has none) is
                // one or two requests: reported, never judged.
                let tail = |s: &Side| s.requests as f64 * (1.0 - q) >= MIN_TAIL;
                tail(base)
                    && tail(new)
                    && past_margin(b, n)
                    && match (&base.histogram, &new.histogram) {
                        (Some(bh), Some(nh)) => {
                            let (blo, bhi) = interval(bh, q);
                            let (nlo, nhi) = interval(nh, q);
                            bhi < nlo || nhi < blo
                        }
                        // Reports without histograms (schema /1): the margin alone.
                        _ => true,
                    }
            }
        }
    }
}

/// The 95% confidence interval of quantile `q`, in ms.
fn interval(h: &stampede_common::stats::EndpointStats, q: f64) -> (f64, f64) {
    let n = h.requests.max(1) as f64;
    let se = (q * (1.0 - q) / n).sqrt();
    let lo = (q - Z95 * se).max(0.0);
    let hi = (q + Z95 * se).min(1.0);
    (h.percentile_ms(lo), h.percentile_ms(hi))
}

/// A two-proportion z-test of the failure ratios at 95%.
fn two_proportions(base: &Side, new: &Side) -> bool {
    let (n1, n2) = (base.requests as f64, new.requests as f64);
    let (f1, f2) = (base.failures as f64, new.failures as f64);
    let pooled = (f1 + f2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    se > 0.0 && ((f2 / n2 - f1 / n1) / se).abs() > Z95
}
