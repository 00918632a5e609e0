//! The actor's state dir half: a run that keeps its state saves it every
//! second (and at its end), and acknowledges workers' reports only once a
//! snapshot that holds them is written; a resumed run knows the sequence
//! numbers its state held, and keeps the seconds of its outage open until
//! the workers that took part are back.

use std::collections::BTreeMap;

use stampede_proto::v1::{self, master_message};
use tokio::time::Instant;
use tracing::{info, warn};

use super::Actor;

impl Actor {
    /// The last merged sequence number of a worker in the run going (the
    /// state's, for a worker not back yet).
    pub(super) fn merged_floor(&self, id: &str) -> u64 {
        let own = self.workers.get(id).map_or(0, |w| w.merged_seq);
        let floor = self
            .run
            .as_ref()
            .and_then(|r| r.durable.as_ref())
            .and_then(|d| d.floors.get(id).copied())
            .unwrap_or(0);
        own.max(floor)
    }

    /// Acknowledges report `seq` of the run going: now, or with the next
    /// saved snapshot when the run keeps its state.
    pub(super) fn ack(&mut self, id: &str, run_id: u64, seq: u64) {
        if let Some(d) = self
            .run
            .as_mut()
            .filter(|r| r.id == run_id)
            .and_then(|r| r.durable.as_mut())
        {
            let owed = d.acks.entry(id.to_owned()).or_insert(0);
            *owed = (*owed).max(seq);
            return;
        }
        self.send(id, master_message::Kind::Ack(v1::Ack { run_id, seq }));
    }

    /// Whether a resumed run still keeps its outage's seconds open.
    pub(super) fn holding(&mut self) -> bool {
        let back = |a: &Actor, id: &String| {
            a.workers
                .get(id)
                .is_some_and(|w| w.conn.is_some() && !w.missing)
        };
        let Some(run) = self.run.as_ref() else {
            return false;
        };
        let Some(d) = run.durable.as_ref() else {
            return false;
        };
        let Some(until) = d.hold else { return false };
        let all_back = d.floors.keys().all(|id| back(self, id));
        if all_back || Instant::now() >= until {
            info!(all_back, "the outage's seconds close from here on");
            if let Some(d) = self.run.as_mut().and_then(|r| r.durable.as_mut()) {
                d.hold = None;
            }
            return false;
        }
        true
    }

    /// Saves the run's state, then sends the acks it owed.
    pub(super) fn persist(&mut self) {
        let Some(run) = self.run.as_ref() else { return };
        if run.durable.is_none() {
            return;
        }
        let ids: Vec<String> = run.participants.iter().cloned().collect();
        let merged: BTreeMap<String, u64> = ids
            .into_iter()
            .map(|id| {
                let seq = self.merged_floor(&id);
                (id, seq)
            })
            .collect();
        let run = self.run.as_mut().expect("checked");
        let d = run.durable.as_mut().expect("checked");
        match d.dir.save(run.id, &run.stats, &merged, &d.outages) {
            Ok(()) => {
                if std::mem::take(&mut d.failing) {
                    info!(dir = %d.dir.path().display(), "the state dir is written again");
                }
                let run_id = run.id;
                let acks = std::mem::take(&mut d.acks);
                for (id, seq) in acks {
                    self.send(&id, master_message::Kind::Ack(v1::Ack { run_id, seq }));
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut d.failing, true) {
                    warn!(dir = %d.dir.path().display(), error = %e, "cannot save the run's state; reports stay unacknowledged until it can");
                }
            }
        }
    }
}
