//! A run's durable state (`--state-dir DIR`), so that a master killed mid-run
//! and started again with the same command resumes the run: `run.json` (the
//! run's id, start, and a fingerprint of its scenario, data files and
//! settings; written when it starts and when its reports are written),
//! `stats.json` (the merged statistics but the closed seconds, the last
//! merged sequence number of each worker, the outages so far; rewritten
//! every second beside its place and renamed into it) and `history.jsonl`
//! (the closed seconds, appended as they close). Workers' reports are
//! acknowledged only once a snapshot holding them is on disk, so a report
//! is either in the state or still in its worker's outbox: never lost, and
//! merged once by its sequence number. A state dir that holds a finished
//! run, another scenario, or a file that does not parse is refused with a
//! message ([`StateError`]); `--fresh` sets it aside and starts anew.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use stampede_common::stats::{HistoryPoint, RunStats, SavedStats, unix_ms};

use crate::files::replace;
use crate::run::RunPlan;

/// The layout's version, in `run.json`.
const FORMAT: u32 = 1;

/// A time the master was away during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    /// When the last state before it was written, unix milliseconds.
    pub start_ms: i64,
    /// How long until the master was back.
    pub length_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: u32,
    run_id: u64,
    fingerprint: String,
    scenario: String,
    started: SystemTime,
    /// When its reports were written: the run is over.
    finished: Option<SystemTime>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    run_id: u64,
    written: SystemTime,
    merged: BTreeMap<String, u64>,
    outages: Vec<Outage>,
    stats: SavedStats,
}

/// What a state dir held of a run in progress.
#[derive(Debug, Clone)]
pub struct Resumed {
    /// The run's id (workers' reports carry it).
    pub run_id: u64,
    /// When it started.
    pub started: SystemTime,
    /// Its statistics as of the last snapshot.
    pub stats: RunStats,
    /// The last merged sequence number of each worker.
    pub merged: BTreeMap<String, u64>,
    /// The outages so far, this one last.
    pub outages: Vec<Outage>,
}

/// Why a state dir cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file of it does not parse.
    #[error(
        "state dir {dir}: {file} is corrupt ({why}); move the state dir away, or pass --fresh to set it aside and start a new run"
    )]
    Corrupt {
        /// The dir.
        dir: String,
        /// The file.
        file: &'static str,
        /// What is wrong.
        why: String,
    },
    /// It holds a run whose reports were written.
    #[error(
        "state dir {dir} holds run {run_id}, finished and reported; pass --fresh to set it aside and start a new run"
    )]
    Finished {
        /// The dir.
        dir: String,
        /// The run.
        run_id: u64,
    },
    /// It holds a run of another scenario or other settings.
    #[error(
        "state dir {dir} holds run {run_id} of scenario `{scenario}` with other files or settings; start the master with the command that began it, or pass --fresh to set it aside"
    )]
    Mismatch {
        /// The dir.
        dir: String,
        /// The run.
        run_id: u64,
        /// Its scenario's name.
        scenario: String,
    },
    /// It cannot be read or written.
    #[error("state dir {dir}: {why}")]
    Io {
        /// The dir.
        dir: String,
        /// What failed.
        why: String,
    },
}

/// A state dir in use, and the run it resumes, if any.
#[derive(Debug, Clone)]
pub struct Durable {
    /// Where the state goes.
    pub dir: StateDir,
    /// The run in progress it held.
    pub resumed: Option<Resumed>,
}

/// A state dir in use.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
    fingerprint: String,
    scenario: String,
    /// The last closed second appended to the history log, unix ms.
    appended_ms: i64,
}

/// A stable fingerprint of what a run is: scenario text, data files, users,
/// rate, classes, target, run time and load model.
pub fn fingerprint(plan: &RunPlan) -> String {
    let what = format!(
        "{}\u{0}{:?}\u{0}{}\u{0}{}\u{0}{:?}\u{0}{}\u{0}{:?}\u{0}{}",
        plan.source.text,
        plan.source.files,
        plan.users,
        plan.spawn_rate,
        plan.classes,
        plan.settings.target,
        plan.run_time,
        plan.load.as_str(),
    );
    // FNV-1a: stable across builds and machines.
    let hash = what.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

impl StateDir {
    /// Opens `dir` for `plan`: a run to resume, or none (`dir` is empty or
    /// new). With `fresh`, a run found there is set aside (moved into
    /// `dir/old-RUNID/`) first.
    ///
    /// # Errors
    ///
    /// See [`StateError`].
    pub fn open(
        dir: &Path,
        plan: &RunPlan,
        fresh: bool,
    ) -> Result<(Self, Option<Resumed>), StateError> {
        let shown = dir.display().to_string();
        let io = |e: std::io::Error| StateError::Io {
            dir: shown.clone(),
            why: e.to_string().to_lowercase(),
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let state = Self {
            dir: dir.to_owned(),
            fingerprint: fingerprint(plan),
            scenario: plan.scenario.name.clone(),
            appended_ms: i64::MIN,
        };
        let meta_path = dir.join("run.json");
        if !meta_path.exists() {
            return Ok((state, None));
        }
        let corrupt = |file: &'static str, why: String| StateError::Corrupt {
            dir: shown.clone(),
            file,
            why,
        };
        let meta: Result<Meta, String> = read_json(&meta_path);
        if fresh {
            // Even a state dir that does not parse is set aside, not read.
            let label = match &meta {
                Ok(m) => m.run_id.to_string(),
                Err(_) => format!("unreadable-{}", unix_ms(SystemTime::now())),
            };
            state.set_aside(&label).map_err(io)?;
            return Ok((state, None));
        }
        let meta = meta.map_err(|why| corrupt("run.json", why))?;
        if meta.format != FORMAT {
            return Err(corrupt(
                "run.json",
                format!("format {} where this master writes {FORMAT}", meta.format),
            ));
        }
        if meta.finished.is_some() {
            return Err(StateError::Finished {
                dir: shown,
                run_id: meta.run_id,
            });
        }
        if meta.fingerprint != state.fingerprint {
            return Err(StateError::Mismatch {
                dir: shown,
                run_id: meta.run_id,
                scenario: meta.scenario,
            });
        }
        let snap: Snapshot =
            read_json(&dir.join("stats.json")).map_err(|why| corrupt("stats.json", why))?;
        if snap.run_id != meta.run_id {
            return Err(corrupt(
                "stats.json",
                format!(
                    "it is of run {}, run.json of run {}",
                    snap.run_id, meta.run_id
                ),
            ));
        }
        let points =
            read_points(&dir.join("history.jsonl")).map_err(|why| corrupt("history.jsonl", why))?;
        let now = SystemTime::now();
        let mut outages = snap.outages;
        outages.push(Outage {
            start_ms: unix_ms(snap.written),
            length_ms: now
                .duration_since(snap.written)
                .unwrap_or(Duration::ZERO)
                .as_millis() as u64,
        });
        let stats = RunStats::restore(snap.stats, points);
        let mut state = state;
        state.appended_ms = stats.history().last().map_or(i64::MIN, |p| p.unix_ms);
        // The log again as the snapshot knows it: points written after the
        // snapshot are dropped, and come again as their seconds close.
        state.rewrite_history(stats.history()).map_err(io)?;
        Ok((
            state,
            Some(Resumed {
                run_id: meta.run_id,
                started: meta.started,
                stats,
                merged: snap.merged,
                outages,
            }),
        ))
    }

    /// Where the state is.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Moves a run's files into `old-LABEL/` (the run's id).
    fn set_aside(&self, label: &str) -> std::io::Result<()> {
        let aside = self.dir.join(format!("old-{label}"));
        std::fs::create_dir_all(&aside)?;
        for f in ["run.json", "stats.json", "history.jsonl"] {
            let from = self.dir.join(f);
            if from.exists() {
                std::fs::rename(&from, aside.join(f))?;
            }
        }
        tracing::warn!(dir = %aside.display(), "the state dir's run was set aside (--fresh)");
        Ok(())
    }

    /// Records the start of run `run_id` (a new one, or resumed).
    pub(crate) fn begin(&self, run_id: u64, started: SystemTime) -> std::io::Result<()> {
        self.write_meta(run_id, started, None)
    }

    fn write_meta(
        &self,
        run_id: u64,
        started: SystemTime,
        finished: Option<SystemTime>,
    ) -> std::io::Result<()> {
        let meta = Meta {
            format: FORMAT,
            run_id,
            fingerprint: self.fingerprint.clone(),
            scenario: self.scenario.clone(),
            started,
            finished,
        };
        replace(
            &self.dir.join("run.json"),
            &serde_json::to_vec_pretty(&meta)?,
        )
    }

    /// Saves the run's state: the seconds closed since the last save onto
    /// the history log, then the snapshot in place of the last one.
    pub(crate) fn save(
        &mut self,
        run_id: u64,
        stats: &RunStats,
        merged: &BTreeMap<String, u64>,
        outages: &[Outage],
    ) -> std::io::Result<()> {
        let points = stats.history();
        let from = points.partition_point(|p| p.unix_ms <= self.appended_ms);
        if from < points.len() {
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join("history.jsonl"))?;
            let mut text = Vec::new();
            for p in &points[from..] {
                serde_json::to_writer(&mut text, p)?;
                text.push(b'\n');
            }
            log.write_all(&text)?;
            self.appended_ms = points[points.len() - 1].unix_ms;
        }
        let snap = Snapshot {
            run_id,
            written: SystemTime::now(),
            merged: merged.clone(),
            outages: outages.to_vec(),
            stats: stats.save(),
        };
        replace(&self.dir.join("stats.json"), &serde_json::to_vec(&snap)?)
    }

    /// The log holding just `points`.
    fn rewrite_history(&self, points: &[HistoryPoint]) -> std::io::Result<()> {
        let mut text = Vec::new();
        for p in points {
            serde_json::to_writer(&mut text, p)?;
            text.push(b'\n');
        }
        replace(&self.dir.join("history.jsonl"), &text)
    }

    /// Marks run `run_id` finished: its reports are written, and the state
    /// dir is not used again without `--fresh`.
    ///
    /// # Errors
    ///
    /// `run.json` cannot be written.
    pub fn mark_finished(&self, run_id: u64, started: SystemTime) -> std::io::Result<()> {
        self.write_meta(run_id, started, Some(SystemTime::now()))
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string().to_lowercase())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// The closed seconds of the log; a last line cut short (a crash in the
/// middle of an append) is left out.
fn read_points(path: &Path) -> Result<Vec<HistoryPoint>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string().to_lowercase()),
    };
    let lines: Vec<&str> = text.lines().collect();
    let whole = text.ends_with('\n');
    let mut points = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        match serde_json::from_str::<HistoryPoint>(l) {
            Ok(p) => points.push(p),
            Err(_) if i + 1 == lines.len() && !whole => break,
            Err(e) => return Err(format!("line {}: {e}", i + 1)),
        }
    }
    Ok(points)
}
