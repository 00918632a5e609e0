//! The actor's membership half: workers joining, leaving, falling silent,
//! their messages (heartbeats, reports merged exactly once by sequence
//! number, stop confirmations, failures), heartbeats to them, and the view
//! of the cluster.

use std::time::SystemTime;

use stampede_common::stats::Load;
use stampede_proto::PROTOCOL_VERSION;
use stampede_proto::v1::{self, master_message, worker_message};
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use super::link::{Link, Sent};
use super::{Actor, Outbound, Worker};
use crate::cluster::intake::merge_report;
use crate::cluster::view::{ClusterView, RunView, WorkerInfo, WorkerState};

impl Actor {
    /// Workers connected, heard from, and not failed in the run going.
    pub(super) fn live(&self) -> Vec<String> {
        let run_id = self.run.as_ref().map(|r| r.id);
        self.workers
            .iter()
            .filter(|(_, w)| {
                w.conn.is_some() && !w.missing && (run_id.is_none() || w.failed_run != run_id)
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Sends to a worker, or buffers for it while its stream is full; a
    /// closed stream (or one not read at all) drops it (false).
    pub(super) fn send(&mut self, id: &str, kind: master_message::Kind) -> bool {
        let Some(w) = self.workers.get_mut(id) else {
            return false;
        };
        let Some(link) = w.conn.as_mut() else {
            return false;
        };
        match link.send(kind) {
            Sent::Now | Sent::Later(false) => true,
            Sent::Later(true) => {
                warn!(
                    worker = id,
                    "worker stream is full; buffering until it reads on"
                );
                true
            }
            Sent::Gone => {
                self.drop_link(id);
                false
            }
        }
    }

    /// A worker whose stream is gone (closed, or not read at all).
    fn drop_link(&mut self, id: &str) {
        let Some(w) = self.workers.get_mut(id) else {
            return;
        };
        warn!(
            worker = id,
            "worker stream is closed or unread; dropping it"
        );
        if let Some(link) = w.conn.take() {
            self.conns.remove(&link.conn);
        }
        w.missing = true;
        self.dropped = true;
    }

    /// Sends what workers' backlogs hold, as far as their streams take it.
    fn flush_backlogs(&mut self) {
        let gone: Vec<String> = self
            .workers
            .iter_mut()
            .filter_map(|(id, w)| {
                let link = w.conn.as_mut().filter(|l| l.waiting() > 0)?;
                (link.flush() == Sent::Gone).then(|| id.clone())
            })
            .collect();
        for id in gone {
            self.drop_link(&id);
        }
    }

    pub(super) fn membership_changed(&mut self) {
        let _ = self.live_count.send(self.live().len());
        self.rebalance();
    }

    pub(super) fn left(&mut self, conn: u64, quit: bool) {
        let Some(id) = self.conns.remove(&conn) else {
            return;
        };
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        if w.conn.as_ref().is_some_and(|c| c.conn == conn) {
            w.conn = None;
            w.missing = true;
            if quit {
                info!(worker = %id, "worker quit; marked missing");
            } else {
                warn!(worker = %id, "worker disconnected; marked missing");
            }
            self.membership_changed();
        }
    }

    pub(super) fn join(&mut self, conn: u64, hello: v1::Hello, tx: Outbound) {
        let id = hello.worker_id.clone();
        let rejoin = self.workers.contains_key(&id);
        let w = self.workers.entry(id.clone()).or_insert_with(|| Worker {
            hostname: String::new(),
            cores: 0,
            cpu_percent: 0.0,
            conn: None,
            missing: false,
            users: 0,
            last_heard: Instant::now(),
            merged_seq: 0,
            prepared: None,
            failed_run: None,
        });
        if let Some(old) = w.conn.take() {
            self.conns.remove(&old.conn);
        }
        w.hostname = hello.hostname;
        w.cores = hello.cores;
        w.conn = Some(Link::new(conn, tx));
        w.missing = false;
        w.users = 0;
        w.last_heard = Instant::now();
        // A new connection has no run prepared; reports already merged stay deduplicated.
        w.prepared = None;
        self.conns.insert(conn, id.clone());
        info!(worker = %id, host = %w.hostname, cores = w.cores, rejoin, "worker joined");
        let welcome = v1::Welcome {
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms: self.timing.heartbeat.as_millis() as u64,
        };
        self.send(&id, master_message::Kind::Welcome(welcome));
        if let Some(run_id) = self
            .run
            .as_ref()
            .filter(|r| r.stopping.is_some())
            .map(|r| r.id)
        {
            self.send(&id, master_message::Kind::Stop(v1::Stop { run_id }));
        }
        self.membership_changed();
    }

    pub(super) fn message(&mut self, conn: u64, msg: v1::WorkerMessage) {
        let Some(id) = self.conns.get(&conn).cloned() else {
            return;
        };
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        w.last_heard = Instant::now();
        if w.missing {
            // Silent for a while, but its stream lived on: it is back.
            w.missing = false;
            info!(worker = %id, "worker heard again; readmitted");
            self.membership_changed();
        }
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        match msg.kind {
            Some(worker_message::Kind::Heartbeat(h)) => {
                w.users = h.users;
                w.cpu_percent = h.cpu_percent;
            }
            Some(worker_message::Kind::Stats(report)) => self.stats(&id, report),
            Some(worker_message::Kind::Stopped(s)) => {
                if let Some(st) = self
                    .run
                    .as_mut()
                    .filter(|r| r.id == s.run_id)
                    .and_then(|r| r.stopping.as_mut())
                {
                    st.pending.remove(&id);
                }
                self.maybe_finish(false);
            }
            Some(worker_message::Kind::RunFailed(f)) => {
                error!(worker = %id, run = f.run_id, error = %f.error, "worker cannot take part in the run");
                w.failed_run = Some(f.run_id);
                if let Some(st) = self.run.as_mut().and_then(|r| r.stopping.as_mut()) {
                    st.pending.remove(&id);
                }
                self.membership_changed();
                self.maybe_finish(false);
            }
            Some(worker_message::Kind::Hello(_)) | None => {}
        }
    }

    fn stats(&mut self, id: &str, report: v1::StatsReport) {
        let (run_id, seq) = (report.run_id, report.seq);
        let floor = self.merged_floor(id);
        if let Some(run) = self.run.as_mut().filter(|r| r.id == run_id) {
            let w = self.workers.get_mut(id).expect("caller checked");
            if seq > floor {
                // Reports come more often than heartbeats: the users they saw.
                w.users = report.users;
                match merge_report(&mut run.stats, id, &report, SystemTime::now()) {
                    Ok(()) => w.merged_seq = seq,
                    Err(e) => {
                        error!(worker = id, seq, error = %e, "dropping a report that does not decode");
                        return;
                    }
                }
            } else {
                debug!(worker = id, seq, "duplicate report dropped");
            }
        }
        // Acknowledge even reports of other runs, so the worker stops resending them.
        self.ack(id, run_id, seq);
    }

    /// Each heartbeat: marks silent workers missing, heartbeats the others,
    /// ticks the run's history, and finishes a stop past its deadline.
    pub(super) fn tick(&mut self) {
        self.flush_backlogs();
        let now = Instant::now();
        let silent: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| {
                w.conn.is_some()
                    && !w.missing
                    && now.duration_since(w.last_heard) >= self.timing.silence
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut changed = false;
        for id in silent {
            // Its stream stays: heard again, it is readmitted.
            warn!(worker = %id, silence = ?self.timing.silence, "worker stopped heartbeating; marked missing until heard again");
            if let Some(w) = self.workers.get_mut(&id) {
                w.missing = true;
                changed = true;
            }
        }
        if changed {
            self.membership_changed();
        }
        let ids: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, w)| w.conn.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.send(
                &id,
                master_message::Kind::Heartbeat(v1::Heartbeat {
                    users: 0,
                    cpu_percent: 0.0,
                }),
            );
        }
        let users: u64 = self
            .workers
            .values()
            .filter(|w| w.conn.is_some() && !w.missing)
            .map(|w| w.users)
            .sum();
        let holding = self.holding();
        if let Some(run) = self.run.as_mut() {
            let rate = match &run.plan.load {
                crate::run::LoadModel::Arrival(a) => {
                    Some(a.shape.rate_at(run.began.elapsed()).unwrap_or_default())
                }
                _ => None,
            };
            let load = Load {
                users,
                target_users: run.plan.users,
                target_rate: rate,
            };
            if !holding {
                run.stats.tick(SystemTime::now(), load);
            }
        }
        self.persist();
        self.maybe_finish(true);
    }

    pub(super) fn view(&self) -> ClusterView {
        let now = Instant::now();
        let workers = self
            .workers
            .iter()
            .map(|(id, w)| WorkerInfo {
                id: id.clone(),
                hostname: w.hostname.clone(),
                cores: w.cores,
                // A missing worker (silent, its stream maybe alive) counts
                // for nothing until it is heard again.
                cpu_percent: if w.conn.is_some() && !w.missing {
                    w.cpu_percent
                } else {
                    0.0
                },
                state: if w.missing || w.conn.is_none() {
                    WorkerState::Missing
                } else if self.run.as_ref().is_some_and(|r| w.prepared == Some(r.id)) {
                    WorkerState::Running
                } else {
                    WorkerState::Ready
                },
                users: if w.conn.is_some() && !w.missing {
                    w.users
                } else {
                    0
                },
                last_heard: now.duration_since(w.last_heard),
            })
            .collect();
        let run = self.run.as_ref().map(|r| RunView {
            id: r.id,
            host: r.plan.settings.target.to_string(),
            users: r.plan.users,
            spawn_rate: r.plan.spawn_rate,
            classes: r.plan.classes.clone(),
            model: r.plan.load.as_str(),
            started: r.started,
            length: r.plan.length(),
            elapsed: r.began.elapsed(),
            stopping: r.stopping.is_some(),
            snapshot: r.stats.snapshot(SystemTime::now()),
        });
        ClusterView { workers, run }
    }
}
