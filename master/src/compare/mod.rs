//! `stampede compare BASE.json NEW.json`: two runs' JSON reports (schema
//! `stampede-report/1` or `/2`) side by side. Per endpoint and in total, the
//! change in every metric ([`metric`]), whether it is beyond noise
//! ([`noise`], from the exact histograms `/2` carries), and gates that fail
//! the comparison ([`gate`]); [`render`] writes the table, JSON and Markdown,
//! [`html`] the page with percentile curves and bars (`--html`). This module
//! owns reading the reports; the CLI owns the flags.

pub mod gate;
pub mod html;
pub mod metric;
pub mod noise;
pub mod render;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use stampede_common::stats::{EndpointStats, StatsKey};

pub use gate::{Gate, GateResult};
pub use metric::Metric;
pub use noise::Noise;

/// A report that cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Not readable, not JSON, or not a stampede report.
    #[error("{file}: {message}")]
    Report {
        /// The file as named.
        file: String,
        /// What is wrong, lowercase.
        message: String,
    },
    /// The two runs are of different scenarios.
    #[error("the runs are of different scenarios (`{base}` and `{new}`)")]
    Scenarios {
        /// The base run's scenario.
        base: String,
        /// The new run's.
        new: String,
    },
    /// A gate that cannot be read or names an endpoint neither run has.
    #[error("--fail-if `{gate}`: {message}")]
    Gate {
        /// The gate as given.
        gate: String,
        /// What is wrong.
        message: String,
    },
}

/// One endpoint (or the Aggregated row) of one run.
#[derive(Debug, Clone)]
pub struct Side {
    /// Requests.
    pub requests: u64,
    /// Failures.
    pub failures: u64,
    /// Requests per second over the run.
    pub rps: f64,
    /// Average response time, ms.
    pub avg_ms: f64,
    /// The report's percentiles, ms, as [`metric::QUANTILES`].
    pub percentiles_ms: Vec<f64>,
    /// The exact histogram (schema `/2`).
    pub histogram: Option<EndpointStats>,
}

/// What a report says about a run, as far as a comparison needs.
#[derive(Debug, Clone)]
pub struct Run {
    /// The file it was read from, as named.
    pub file: String,
    /// The schema it was written with.
    pub schema: String,
    /// Its scenario's name.
    pub scenario: String,
    /// How it ran, as far as the report says.
    pub about: About,
    /// Per endpoint.
    pub endpoints: BTreeMap<StatsKey, Side>,
    /// The Aggregated row.
    pub total: Side,
}

#[derive(Deserialize)]
struct RawReport {
    schema: String,
    run: RawRun,
    stats: Vec<RawEndpoint>,
    total: RawEndpoint,
}

/// How a run ran: each as its report's `run` object has it, `None` when it
/// lacks it (an older report, or another tool's).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct About {
    /// The target.
    pub host: Option<String>,
    /// When load started, RFC 3339.
    pub started: Option<String>,
    /// How long it ran, seconds.
    pub duration_s: Option<f64>,
    /// Users asked for.
    pub users: Option<u64>,
    /// Workers that took part.
    pub workers: Option<u64>,
    /// How the load was shaped (`users`, `stages`, `arrival_rate`, `shape`).
    #[serde(deserialize_with = "load_model")]
    pub load: Option<String>,
}

/// The `model` of the report's `load` object.
fn load_model<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.get("model").and_then(|m| m.as_str()).map(str::to_owned))
}

#[derive(Deserialize)]
struct RawRun {
    scenario: String,
    #[serde(flatten)]
    about: About,
}

#[derive(Deserialize)]
struct RawEndpoint {
    method: String,
    name: String,
    requests: u64,
    failures: u64,
    rps: f64,
    avg_ms: f64,
    min_ms: f64,
    max_ms: f64,
    percentiles_ms: BTreeMap<String, f64>,
    #[serde(default)]
    histogram: Option<String>,
}

impl Run {
    /// Reads a report from `text`, naming `file` in errors.
    ///
    /// # Errors
    ///
    /// Text that is not a stampede report of a known schema, or whose
    /// histograms do not decode.
    pub fn parse(file: &str, text: &str) -> Result<Self, CompareError> {
        let bad = |message: String| CompareError::Report {
            file: file.to_owned(),
            message,
        };
        let raw: RawReport = serde_json::from_str(text)
            .map_err(|e| bad(format!("not a stampede json report ({e})")))?;
        if !matches!(
            raw.schema.as_str(),
            "stampede-report/1" | "stampede-report/2"
        ) {
            return Err(bad(format!(
                "schema `{}` is not one this version reads (stampede-report/1 or /2)",
                raw.schema
            )));
        }
        let side = |e: &RawEndpoint| -> Result<Side, CompareError> {
            let percentiles_ms = metric::QUANTILES
                .iter()
                .map(|(label, _)| e.percentiles_ms.get(*label).copied().unwrap_or(0.0))
                .collect();
            let histogram = match &e.histogram {
                None => None,
                Some(b64) => {
                    let bytes = STANDARD.decode(b64).map_err(|err| {
                        bad(format!(
                            "the histogram of `{}` is not base64 ({err})",
                            e.name
                        ))
                    })?;
                    let us = |ms: f64| (ms * 1000.0).round() as u64;
                    let total_us = (e.avg_ms * 1000.0 * e.requests as f64).round() as u64;
                    let stats = EndpointStats::from_wire(
                        e.requests,
                        e.failures,
                        0,
                        total_us,
                        us(e.min_ms),
                        us(e.max_ms),
                        &bytes,
                    )
                    .map_err(|err| bad(format!("the histogram of `{}`: {err}", e.name)))?;
                    Some(stats)
                }
            };
            Ok(Side {
                requests: e.requests,
                failures: e.failures,
                rps: e.rps,
                avg_ms: e.avg_ms,
                percentiles_ms,
                histogram,
            })
        };
        let mut endpoints = BTreeMap::new();
        for e in &raw.stats {
            endpoints.insert(StatsKey::new(e.method.as_str(), e.name.as_str()), side(e)?);
        }
        Ok(Self {
            file: file.to_owned(),
            schema: raw.schema.clone(),
            scenario: raw.run.scenario.clone(),
            about: raw.run.about,
            endpoints,
            total: side(&raw.total)?,
        })
    }

    /// Reads the report in `path`.
    ///
    /// # Errors
    ///
    /// A file that cannot be read, or as [`Run::parse`].
    pub fn read(path: &str) -> Result<Self, CompareError> {
        let text = std::fs::read_to_string(path).map_err(|e| CompareError::Report {
            file: path.to_owned(),
            message: format!("cannot read: {}", e.to_string().to_lowercase()),
        })?;
        Self::parse(path, &text)
    }
}

/// The comparison of one row (an endpoint, or the Aggregated row).
#[derive(Debug, Clone)]
pub struct RowChange {
    /// `None` for the Aggregated row.
    pub key: Option<StatsKey>,
    /// Every metric's change.
    pub changes: Vec<metric::Change>,
}

impl RowChange {
    /// The metrics that regressed beyond noise.
    pub fn regressed(&self) -> Vec<&'static str> {
        self.changes
            .iter()
            .filter(|c| c.regressed())
            .map(|c| c.metric.name())
            .collect()
    }
}

/// Two runs compared.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The base run's scenario.
    pub scenario: String,
    /// Endpoints in both runs, then the Aggregated row.
    pub rows: Vec<RowChange>,
    /// Endpoints in only one of the runs, with which.
    pub only_in: Vec<(StatsKey, &'static str)>,
    /// Each gate's verdict.
    pub gates: Vec<GateResult>,
    /// How noise was judged.
    pub noise: Noise,
}

impl Comparison {
    /// Compares `new` against `base` and judges `gates`.
    ///
    /// # Errors
    ///
    /// Runs of different scenarios, or a gate naming an endpoint that
    /// neither run has.
    pub fn new(base: &Run, new: &Run, gates: &[Gate], noise: Noise) -> Result<Self, CompareError> {
        if base.scenario != new.scenario {
            return Err(CompareError::Scenarios {
                base: base.scenario.clone(),
                new: new.scenario.clone(),
            });
        }
        let mut rows: Vec<RowChange> = base
            .endpoints
            .iter()
            .filter_map(|(k, b)| {
                let n = new.endpoints.get(k)?;
                Some(RowChange {
                    key: Some(k.clone()),
                    changes: metric::changes(b, n, &noise),
                })
            })
            .collect();
        rows.push(RowChange {
            key: None,
            changes: metric::changes(&base.total, &new.total, &noise),
        });
        let only = |a: &Run, b: &Run, which| {
            a.endpoints
                .keys()
                .filter(|k| !b.endpoints.contains_key(*k))
                .map(move |k| (k.clone(), which))
                .collect::<Vec<_>>()
        };
        let mut only_in = only(base, new, "base");
        only_in.extend(only(new, base, "new"));
        let gates = gates
            .iter()
            .map(|g| g.judge(&rows))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            scenario: base.scenario.clone(),
            rows,
            only_in,
            gates,
            noise,
        })
    }

    /// Whether every gate held.
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }
}
