//! The virtual user: one tokio task per user, running its class's `on_start`
//! until it succeeds, then its tasks in a loop with the class's wait time, and
//! `on_stop` when stopped gracefully. A failed step ends the current task (a
//! sequence starts over), so a failed login or order does not cascade into
//! bogus follow-up requests. In the open model a user instead runs the
//! iterations the schedule hands it (`run_open`). The steps themselves run
//! in `flow`; a scripted user's tasks in `scripted`.

mod flow;
mod scripted;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use http::header::HeaderValue;
use minijinja::Value;
use stampede_common::scenario::model::{Tasks, UserClass};
use stampede_script::{ScriptedUser, UserEntry, UserScope};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::exchange;
use crate::user::{Shared, UserSession};

use stampede_common::run::UserSlot;

struct VirtualUser<'a> {
    shared: &'a Shared,
    class: &'a UserClass,
    base: &'a str,
    user: UserSession,
    ctx: Option<Value>,
    iteration: u64,
    /// Open model: how late the current iteration started (`None`: closed model).
    lag: Option<Duration>,
    /// What a user that runs scripts keeps (`None` until it runs one, so
    /// that users without scripts pay one pointer for them).
    script: Option<Box<ScriptState>>,
}

/// A user's script state.
#[derive(Default)]
struct ScriptState {
    /// The user's own generator, lent to its scripts.
    rng: fastrand::Rng,
    /// A scripted class's user table (Locust's `self`).
    scripted: Option<ScriptedUser>,
    /// The variables as `script:` steps see them.
    scope: Option<UserScope>,
    /// Variables set since the last `script:` step (`None`: all of them).
    changed: Option<BTreeSet<String>>,
    /// A scripted user's request names and their stats slots.
    names: Vec<(String, String, usize)>,
}

#[derive(Debug, PartialEq, Eq)]
enum Run {
    Completed,
    Failed,
    Stopped,
}

/// Runs one virtual user of the closed model until `stop` is cancelled (and,
/// gracefully, a bit after): its tasks in a loop with the class's wait time.
pub(crate) async fn run(
    shared: Arc<Shared>,
    class_idx: usize,
    index: u64,
    stop: CancellationToken,
) {
    let mut vu = VirtualUser::new(&shared, class_idx, index);
    let class = vu.class;
    if !vu.start(&stop).await {
        return;
    }
    let interruptible = shared.stop_timeout.is_zero();
    let mut cursor = 0usize;
    while !stop.is_cancelled() {
        let started = Instant::now();
        let result = match &class.tasks {
            Tasks::Sequence(steps) => {
                let r = vu
                    .steps(&steps[cursor..=cursor], &stop, interruptible)
                    .await;
                cursor = if r == Run::Completed {
                    (cursor + 1) % steps.len()
                } else {
                    0
                };
                r
            }
            Tasks::Weighted { .. } | Tasks::Script { .. } => {
                vu.weighted_task(&stop, interruptible).await
            }
        };
        if result == Run::Stopped {
            break;
        }
        vu.next_iteration();
        if !vu.pause(started.elapsed(), &stop).await {
            break;
        }
    }
    vu.finish(interruptible).await;
}

/// Runs one virtual user of the open model: `on_start`, then one iteration
/// (a pass of the sequence, or one weighted task) for each due time it is
/// handed on `work`, telling `idle` after each, until `work` closes or
/// `stop`. Its requests' response times count from the iteration's due time.
pub(crate) async fn run_open(
    shared: Arc<Shared>,
    slot: UserSlot,
    stop: CancellationToken,
    mut work: mpsc::Receiver<Instant>,
    idle: mpsc::UnboundedSender<UserSlot>,
) {
    let mut vu = VirtualUser::new(&shared, slot.class, slot.index);
    vu.lag = Some(Duration::ZERO);
    let class = vu.class;
    if !vu.start(&stop).await {
        return;
    }
    let interruptible = shared.stop_timeout.is_zero();
    loop {
        let intended = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            w = work.recv() => match w {
                Some(t) => t,
                None => break,
            },
        };
        vu.lag = Some(Instant::now().saturating_duration_since(intended));
        let result = match &class.tasks {
            Tasks::Sequence(steps) => vu.steps(steps, &stop, interruptible).await,
            Tasks::Weighted { .. } | Tasks::Script { .. } => {
                vu.weighted_task(&stop, interruptible).await
            }
        };
        if result == Run::Stopped {
            break;
        }
        vu.next_iteration();
        if idle.send(slot).is_err() {
            break;
        }
    }
    vu.finish(interruptible).await;
}

impl<'a> VirtualUser<'a> {
    fn new(shared: &'a Shared, class_idx: usize, index: u64) -> Self {
        let class = &shared.scenario.classes[class_idx];
        let mut vars = BTreeMap::new();
        for (k, v) in &class.variables {
            vars.insert(k.clone(), Value::from_serialize(v));
        }
        if let Some(f) = &class.feeder {
            for (col, val) in f.columns.iter().zip(f.row_for(index)) {
                vars.insert(col.clone(), Value::from(val.clone()));
            }
        }
        vars.insert("user_index".into(), Value::from(index));
        vars.insert("user_class".into(), Value::from(class.name.clone()));
        vars.insert("iteration".into(), Value::from(0));
        let script = match (&class.tasks, &shared.scenario.program) {
            (Tasks::Script { .. }, Some(p)) => {
                let index = Value::from(index);
                let user = p.new_user(
                    vars.iter()
                        .map(|(k, v)| (k.as_str(), v))
                        .chain([("index", &index)]),
                );
                if let Err(e) = &user {
                    shared.recorder.record_exception(&e.to_string());
                }
                Some(Box::new(ScriptState {
                    scripted: user.ok(),
                    ..ScriptState::default()
                }))
            }
            _ => None,
        };
        Self {
            script,
            shared,
            class,
            base: class.host.as_ref().map_or(&shared.host, |t| t.as_str()),
            user: UserSession {
                session: shared.client.session_for(index),
                headers: HeaderMap::new(),
                vars,
                http_version: class.http_version,
            },
            ctx: None,
            iteration: 0,
            lag: None,
        }
    }

    /// Sets the session headers and runs `on_start` until it succeeds; false
    /// when stopped first.
    async fn start(&mut self, stop: &CancellationToken) -> bool {
        let class = self.class;
        if self.set_headers(&class.headers).is_err() {
            self.shared
                .recorder
                .record_exception("invalid session header value");
        }
        loop {
            let started = match class.tasks {
                Tasks::Script { .. } => self.script_task(UserEntry::Start, stop, true).await,
                _ => self.steps(&class.on_start, stop, true).await,
            };
            match started {
                Run::Completed => return true,
                Run::Stopped => return false,
                Run::Failed => {
                    if !self.pause(Duration::ZERO, stop).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Runs `on_stop` (when stopping gracefully) and closes the connection.
    async fn finish(mut self, interruptible: bool) {
        let class = self.class;
        if !interruptible {
            let never = CancellationToken::new();
            if let Tasks::Script { .. } = class.tasks {
                self.script_task(UserEntry::Stop, &never, false).await;
            } else if !class.on_stop.is_empty() {
                self.steps(&class.on_stop, &never, false).await;
            }
        }
        self.user.session.close();
    }

    /// One weighted task (of steps, or of the class's script), picked at
    /// random by weight.
    async fn weighted_task(&mut self, stop: &CancellationToken, interruptible: bool) -> Run {
        let class = self.class;
        match &class.tasks {
            Tasks::Weighted {
                tasks,
                total_weight,
            } => {
                let task = Tasks::pick_weighted(tasks, fastrand::u32(..*total_weight));
                self.steps(&task.steps, stop, interruptible).await
            }
            Tasks::Script {
                tasks,
                total_weight,
                ..
            } => {
                let mut roll = fastrand::u32(..*total_weight);
                let mut pick = tasks.len() - 1;
                for (i, (_, w)) in tasks.iter().enumerate() {
                    if roll < *w {
                        pick = i;
                        break;
                    }
                    roll -= w;
                }
                self.script_task(UserEntry::Task(pick), stop, interruptible)
                    .await
            }
            Tasks::Sequence(_) => Run::Completed,
        }
    }

    /// Counts the iteration that just ended and starts the next one.
    fn next_iteration(&mut self) {
        self.shared.recorder.record_iteration();
        self.iteration += 1;
        self.set_var("iteration", Value::from(self.iteration));
        if let Some(s) = self.script.as_ref().and_then(|s| s.scripted.as_ref()) {
            s.set("iteration", self.iteration as f64);
        }
    }

    /// Sets a user variable, noting it for the next `script:` step.
    fn set_var(&mut self, name: &str, value: Value) {
        self.user.vars.insert(name.to_owned(), value);
        self.vars_changed([name]);
    }

    /// Notes variables set outside `set_var` (by an extraction).
    fn vars_changed<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) {
        if let Some(c) = self.script.as_mut().and_then(|s| s.changed.as_mut()) {
            c.extend(names.into_iter().map(str::to_owned));
        }
        self.ctx = None;
    }

    /// Records a request's outcome (or, when none was sent, its error as
    /// an exception); `error` replaces the outcome's own.
    fn record(&self, stat: usize, out: &exchange::Outcome, error: Option<&str>) {
        let recorder = &self.shared.recorder;
        if out.sent {
            match self.lag {
                None => recorder.record(stat, out.micros, out.content_bytes, error),
                Some(lag) => recorder.record_open(
                    stat,
                    out.micros.saturating_add(lag.as_micros() as u64),
                    out.micros,
                    out.content_bytes,
                    error,
                ),
            }
        } else if let Some(e) = error {
            recorder.record_exception(e);
        }
    }

    fn ctx(&mut self) -> Value {
        self.ctx
            .get_or_insert_with(|| Value::from_object(self.user.vars.clone()))
            .clone()
    }

    /// Waits the class's wait time after a task; false when stopped meanwhile.
    async fn pause(&self, task_time: Duration, stop: &CancellationToken) -> bool {
        let wait = self.class.wait.after(task_time);
        if wait.is_zero() {
            tokio::task::yield_now().await;
            return !stop.is_cancelled();
        }
        tokio::select! {
            _ = stop.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }

    fn set_headers(
        &mut self,
        headers: &[(
            http::HeaderName,
            stampede_common::scenario::template::Template,
        )],
    ) -> Result<(), String> {
        let ctx = self.ctx();
        for (name, tpl) in headers {
            let v = self
                .shared
                .scenario
                .templates
                .render(tpl, &ctx)
                .map_err(|e| e.to_string())?;
            let v = HeaderValue::from_str(&v)
                .map_err(|_| format!("invalid value for header `{name}`"))?;
            self.user.headers.insert(name.clone(), v);
        }
        Ok(())
    }
}
