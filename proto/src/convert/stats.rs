//! The interval statistics of one worker and the wire's `StatsReport`:
//! histograms travel as HdrHistogram V2+DEFLATE bytes.

use std::time::{Duration, SystemTime};

use stampede_common::stats::{
    EndpointStats, FailureKey, HistogramError, IntervalStats, Measured, StatsKey,
};

use crate::v1;

/// Encodes one interval of one worker.
///
/// # Errors
///
/// A histogram that fails to serialize (not expected for valid histograms).
pub fn encode_interval(
    run_id: u64,
    seq: u64,
    users: u64,
    i: &IntervalStats,
) -> Result<v1::StatsReport, HistogramError> {
    let endpoints = encode_endpoints(&i.endpoints)?;
    let failures = i
        .failures
        .iter()
        .map(|(k, n)| v1::FailureCount {
            method: k.key.method.clone(),
            name: k.key.name.clone(),
            error: k.error.clone(),
            count: *n,
        })
        .collect();
    let exceptions = i
        .exceptions
        .iter()
        .map(|(m, n)| v1::ExceptionCount {
            message: m.clone(),
            count: *n,
        })
        .collect();
    Ok(v1::StatsReport {
        run_id,
        seq,
        endpoints,
        failures,
        exceptions,
        users,
        iterations: i.iterations,
        dropped_iterations: i.dropped_iterations,
        service: encode_endpoints(&i.service)?,
        // Set by the sender, at each send.
        interval_ms: 0,
        ended_ms_ago: 0,
    })
}

/// When a report's numbers were measured, on the clock of whoever
/// `received` it.
pub fn measured_from_wire(r: &v1::StatsReport, received: SystemTime) -> Measured {
    Measured::before(
        received,
        Duration::from_millis(r.ended_ms_ago),
        Duration::from_millis(r.interval_ms),
    )
}

fn encode_endpoints(
    list: &[(StatsKey, EndpointStats)],
) -> Result<Vec<v1::EndpointStats>, HistogramError> {
    list.iter()
        .map(|(k, s)| {
            Ok(v1::EndpointStats {
                method: k.method.clone(),
                name: k.name.clone(),
                requests: s.requests,
                failures: s.failures,
                content_bytes: s.content_bytes,
                total_micros: s.total_micros,
                min_micros: s.min_micros,
                max_micros: s.max_micros,
                histogram: s.encode_histogram()?,
            })
        })
        .collect()
}

fn decode_endpoints(
    list: &[v1::EndpointStats],
) -> Result<Vec<(StatsKey, EndpointStats)>, HistogramError> {
    list.iter()
        .map(|e| {
            let stats = EndpointStats::from_wire(
                e.requests,
                e.failures,
                e.content_bytes,
                e.total_micros,
                e.min_micros,
                e.max_micros,
                &e.histogram,
            )?;
            Ok((StatsKey::new(&e.method, &e.name), stats))
        })
        .collect()
}

/// Decodes a report's statistics.
///
/// # Errors
///
/// A histogram that does not decode or disagrees with its counts.
pub fn decode_interval(r: &v1::StatsReport) -> Result<IntervalStats, HistogramError> {
    let endpoints = decode_endpoints(&r.endpoints)?;
    let failures = r
        .failures
        .iter()
        .map(|f| {
            (
                FailureKey {
                    key: StatsKey::new(&f.method, &f.name),
                    error: f.error.clone(),
                },
                f.count,
            )
        })
        .collect();
    let exceptions = r
        .exceptions
        .iter()
        .map(|e| (e.message.clone(), e.count))
        .collect();
    Ok(IntervalStats {
        endpoints,
        failures,
        exceptions,
        service: decode_endpoints(&r.service)?,
        iterations: r.iterations,
        dropped_iterations: r.dropped_iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_common::stats::Recorder;

    #[test]
    fn interval_round_trips() {
        let r = Recorder::new(vec![
            StatsKey::new("GET", "/a"),
            StatsKey::new("POST", "/b"),
        ]);
        for i in 0..50u64 {
            r.record(
                (i % 2) as usize,
                100 + i * 7,
                3,
                (i % 5 == 0).then_some("boom"),
            );
        }
        r.record_exception("template error: x");
        r.record_open(1, 9_000, 4_000, 3, None);
        r.record_iteration();
        r.record_dropped_iteration();
        let interval = r.take();
        let wire = encode_interval(7, 3, 12, &interval).unwrap();
        assert_eq!((wire.run_id, wire.seq, wire.users), (7, 3, 12));
        let back = decode_interval(&wire).unwrap();
        assert_eq!(back.endpoints, interval.endpoints);
        let mut f1 = back.failures.clone();
        let mut f2 = interval.failures.clone();
        f1.sort();
        f2.sort();
        assert_eq!(f1, f2);
        assert_eq!(back.exceptions, interval.exceptions);
        assert_eq!(back.service, interval.service);
        assert_eq!((back.iterations, back.dropped_iterations), (1, 1));
    }
}
