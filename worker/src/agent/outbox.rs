//! Reports not yet acknowledged by the master. Every interval report stays
//! here until the master acks its sequence number; after a reconnect they are
//! all sent again, in order, and the master drops the ones it already merged.
//! While disconnected for long, reports that were never sent are folded
//! together so memory stays bounded without losing any count.

use std::collections::VecDeque;

use tokio::time::Instant;

use stampede_common::stats::IntervalStats;
use stampede_proto::convert::{decode_interval, encode_interval};
use stampede_proto::v1::StatsReport;

/// Unsent reports beyond this are folded into one: two minutes of 250 ms
/// reports, longer than the default master timeout, so a master's outage
/// folds nothing (a folded report spans a longer interval, and lands in one
/// second of the master's history).
const MAX_UNSENT: usize = 480;

#[derive(Debug)]
struct Entry {
    report: StatsReport,
    sent: bool,
    /// When its numbers were measured.
    measured: (Instant, Instant),
}

/// The worker's unacknowledged reports for its current run.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    entries: VecDeque<Entry>,
    next_seq: u64,
}

impl Outbox {
    /// Queues one interval, measured between `measured.0` and `.1`, as the
    /// next report of `run_id`; returns its seq. Sequence numbers never
    /// restart in a worker process, so a report left over from an earlier
    /// run can never pass for one of the current run.
    pub(crate) fn push(
        &mut self,
        run_id: u64,
        users: u64,
        interval: &IntervalStats,
        measured: (Instant, Instant),
    ) -> u64 {
        self.next_seq += 1;
        let report = match encode_interval(run_id, self.next_seq, users, interval) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a stats report");
                return self.next_seq;
            }
        };
        self.entries.push_back(Entry {
            report,
            sent: false,
            measured,
        });
        self.fold_unsent();
        self.next_seq
    }

    /// Drops everything of `run_id` up to `seq`.
    pub(crate) fn ack(&mut self, run_id: u64, seq: u64) {
        self.entries
            .retain(|e| !(e.report.run_id == run_id && e.report.seq <= seq));
    }

    /// Reports not sent on the current connection, marked sent, each
    /// saying when it was measured as of now.
    pub(crate) fn take_unsent(&mut self) -> Vec<StatsReport> {
        let now = Instant::now();
        self.entries
            .iter_mut()
            .filter(|e| !e.sent)
            .map(|e| {
                e.sent = true;
                let (start, end) = e.measured;
                let mut r = e.report.clone();
                r.interval_ms = end.duration_since(start).as_millis() as u64;
                r.ended_ms_ago = now.duration_since(end).as_millis() as u64;
                r
            })
            .collect()
    }

    /// After a disconnect nothing counts as sent: resend all on the next connection.
    pub(crate) fn mark_all_unsent(&mut self) {
        for e in &mut self.entries {
            e.sent = false;
        }
    }

    /// Whether every report was acknowledged.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reports waiting for an ack.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Folds the two oldest never-sent reports of the same run into one
    /// (keeping the later seq) while there are too many.
    fn fold_unsent(&mut self) {
        while self.entries.iter().filter(|e| !e.sent).count() > MAX_UNSENT {
            let Some(first) = self.entries.iter().position(|e| !e.sent) else {
                return;
            };
            let second = first + 1;
            if second >= self.entries.len()
                || self.entries[second].sent
                || self.entries[second].report.run_id != self.entries[first].report.run_id
            {
                return;
            }
            let (Ok(mut a), Ok(b)) = (
                decode_interval(&self.entries[first].report),
                decode_interval(&self.entries[second].report),
            ) else {
                return;
            };
            a.absorb(b);
            let r = &self.entries[second].report;
            match encode_interval(r.run_id, r.seq, r.users, &a) {
                Ok(folded) => {
                    self.entries[second].report = folded;
                    self.entries[second].measured.0 = self.entries[first].measured.0;
                    self.entries.remove(first);
                }
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_common::stats::{Recorder, StatsKey};

    fn now() -> (Instant, Instant) {
        (Instant::now(), Instant::now())
    }

    fn interval(n: u64) -> IntervalStats {
        let r = Recorder::new(vec![StatsKey::new("GET", "/")]);
        for i in 0..n {
            r.record(0, 1000 + i, 1, None);
        }
        r.take()
    }

    #[test]
    fn acked_reports_leave_unacked_are_resent() {
        let mut o = Outbox::default();
        for _ in 0..3 {
            o.push(1, 5, &interval(10), now());
        }
        assert_eq!(
            o.take_unsent().iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!(o.take_unsent().is_empty());
        o.ack(1, 2);
        o.mark_all_unsent();
        assert_eq!(
            o.take_unsent().iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![3]
        );
    }

    #[test]
    fn folding_keeps_every_count() {
        let mut o = Outbox::default();
        for _ in 0..(MAX_UNSENT + 30) {
            o.push(1, 5, &interval(3), now());
        }
        assert_eq!(o.len(), MAX_UNSENT);
        let total: u64 = o
            .take_unsent()
            .iter()
            .flat_map(|r| &r.endpoints)
            .map(|e| e.requests)
            .sum();
        assert_eq!(total, 3 * (MAX_UNSENT as u64 + 30));
    }
}
