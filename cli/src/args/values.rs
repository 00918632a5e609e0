//! The typed values of flags: each parser turns one flag's text into its
//! type (durations, rates, shapes, thresholds, URLs, latency ranges, the
//! master's address, host overrides, source addresses), with the one-line
//! message clap shows when it does not parse.

use std::time::Duration;

use stampede_common::run::{Resolve, Target};
use stampede_common::shape::{ArrivalShape, Rate, Stages};
use stampede_common::thresholds::Threshold;
use stampede_shop::LatencyRange;

pub(super) fn duration(s: &str) -> Result<Duration, String> {
    stampede_common::duration::parse_duration(s)
}

pub(super) fn positive_duration(s: &str) -> Result<Duration, String> {
    match duration(s)? {
        d if d.is_zero() => Err("must be above zero".into()),
        d => Ok(d),
    }
}

pub(super) fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "invalid spawn rate `{s}`: expected a number of users per second above 0"
        )),
    }
}

pub(super) fn target(s: &str) -> Result<Target, String> {
    s.parse()
        .map_err(|e: stampede_common::run::TargetError| e.to_string())
}

pub(super) fn stages(s: &str) -> Result<Stages, String> {
    s.parse()
        .map_err(|e: stampede_common::shape::StagesError| e.to_string())
}

pub(super) fn arrival_rate(s: &str) -> Result<Rate, String> {
    s.parse()
}

pub(super) fn arrival_stages(s: &str) -> Result<ArrivalShape, String> {
    s.parse()
}

pub(super) fn threshold(s: &str) -> Result<Threshold, String> {
    s.parse()
        .map_err(|e: stampede_common::thresholds::ThresholdError| e.to_string())
}

/// The demo shop's added latency: none, or a fixed time or a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency(pub Option<LatencyRange>);

/// A fixed `50ms` or a range `20ms..80ms`.
pub(super) fn latency_range(s: &str) -> Result<LatencyRange, String> {
    s.trim().parse().map_err(|e| format!("{e}"))
}

/// `PREFIX=LATENCY`: extra latency for the shop's paths under a prefix.
pub(super) fn slow_route(s: &str) -> Result<(String, LatencyRange), String> {
    let (prefix, latency) = s
        .split_once('=')
        .filter(|(p, _)| p.starts_with('/'))
        .ok_or_else(|| format!("expected PREFIX=LATENCY, as /api/products/=50ms, got `{s}`"))?;
    Ok((prefix.to_owned(), latency_range(latency)?))
}

/// `0`, `0ms` or `0s` (no latency), or a [`latency_range`].
pub(super) fn latency(s: &str) -> Result<Latency, String> {
    match s.trim() {
        "0" | "0ms" | "0s" | "" => Ok(Latency(None)),
        text => latency_range(text).map(|l| Latency(Some(l))),
    }
}

/// The master's address: `HOST:PORT`, or a URL `http(s)://HOST:PORT`.
pub(super) fn master_address(s: &str) -> Result<String, String> {
    let bad =
        || format!("invalid master address `{s}`: expected HOST:PORT with a port from 1 to 65535");
    let url = if s.contains("://") {
        s.to_owned()
    } else {
        format!("http://{s}")
    };
    match url::Url::parse(&url) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.port().is_some_and(|p| p > 0)
                && u.path() == "/" =>
        {
            Ok(s.to_owned())
        }
        _ => Err(bad()),
    }
}

/// `--source-ips`, parsed.
#[derive(Debug, Clone)]
pub struct SourceIps(pub Vec<std::net::IpAddr>);

pub(super) fn resolve(s: &str) -> Result<Resolve, String> {
    s.parse()
}

pub(super) fn source_ips(s: &str) -> Result<SourceIps, String> {
    stampede_common::run::parse_source_ips(s).map(SourceIps)
}

/// `--max-body-size`: bytes, or a number with kB, KiB, MB, MiB, GB or GiB.
pub(super) fn byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (like 10MB, 512KiB or 1048576)"))?;
    let unit_size: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "`{s}`: unknown unit `{other}` (B, kB, KiB, MB, MiB, GB, GiB)"
            ));
        }
    };
    match n.checked_mul(unit_size) {
        Some(0) => Err(format!("`{s}`: the size must be above zero")),
        Some(v) => Ok(v),
        None => Err(format!("`{s}` is too large")),
    }
}
