//! The virtual user: one tokio task per user, running its class's `on_start`
//! until it succeeds, then its tasks in a loop with the class's wait time, and
//! `on_stop` when stopped gracefully. A failed step ends the current task (a
//! sequence starts over), so a failed login or order does not cascade into
//! bogus follow-up requests. In the open model a user instead runs the
//! iterations the schedule hands it (`run_open`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use http::header::HeaderValue;
use minijinja::Value;
use stampede_common::scenario::model::{Step, Tasks, UserClass};
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
            Tasks::Weighted { .. } => vu.weighted_task(&stop, interruptible).await,
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
            Tasks::Weighted { .. } => vu.weighted_task(&stop, interruptible).await,
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
        Self {
            shared,
            class,
            base: class.host.as_ref().map_or(&shared.host, |t| t.as_str()),
            user: UserSession {
                session: shared.client.session(),
                headers: HeaderMap::new(),
                vars,
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
            match self.steps(&class.on_start, stop, true).await {
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
        if !interruptible && !class.on_stop.is_empty() {
            self.steps(&class.on_stop, &CancellationToken::new(), false)
                .await;
        }
        self.user.session.close();
    }

    /// One weighted task, picked at random by weight.
    async fn weighted_task(&mut self, stop: &CancellationToken, interruptible: bool) -> Run {
        let class = self.class;
        let Tasks::Weighted {
            tasks,
            total_weight,
        } = &class.tasks
        else {
            return Run::Completed;
        };
        let task = Tasks::pick_weighted(tasks, fastrand::u32(..*total_weight));
        self.steps(&task.steps, stop, interruptible).await
    }

    /// Counts the iteration that just ended and starts the next one.
    fn next_iteration(&mut self) {
        self.shared.recorder.record_iteration();
        self.iteration += 1;
        self.user
            .vars
            .insert("iteration".into(), Value::from(self.iteration));
        self.ctx = None;
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

    async fn steps(
        &mut self,
        steps: &[Step],
        stop: &CancellationToken,
        interruptible: bool,
    ) -> Run {
        for step in steps {
            if interruptible && stop.is_cancelled() {
                return Run::Stopped;
            }
            if !self.step(step, stop).await {
                return Run::Failed;
            }
        }
        Run::Completed
    }

    /// Runs one step; false when it failed.
    async fn step(&mut self, step: &Step, stop: &CancellationToken) -> bool {
        let shared = self.shared;
        match step {
            Step::Request(req) => {
                let ctx = self.ctx();
                // Boxed so an idle user task does not reserve the request's state.
                let out = Box::pin(exchange::perform(
                    req,
                    shared,
                    self.base,
                    &ctx,
                    &mut self.user,
                ))
                .await;
                if !req.extract.is_empty() {
                    self.ctx = None;
                }
                if out.sent {
                    match self.lag {
                        None => shared.recorder.record(
                            req.stat,
                            out.micros,
                            out.content_bytes,
                            out.error.as_deref(),
                        ),
                        Some(lag) => shared.recorder.record_open(
                            req.stat,
                            out.micros.saturating_add(lag.as_micros() as u64),
                            out.micros,
                            out.content_bytes,
                            out.error.as_deref(),
                        ),
                    }
                } else if let Some(e) = &out.error {
                    shared.recorder.record_exception(e);
                }
                out.error.is_none()
            }
            Step::SetHeaders(headers) => match self.set_headers(headers) {
                Ok(()) => true,
                Err(e) => {
                    shared.recorder.record_exception(&e);
                    false
                }
            },
            Step::Set(values) => {
                let ctx = self.ctx();
                for (name, tpl) in values {
                    match shared.scenario.templates.render_value(tpl, &ctx) {
                        Ok(v) => {
                            self.user
                                .vars
                                .insert(name.clone(), Value::from_serialize(&v));
                        }
                        Err(e) => {
                            shared.recorder.record_exception(&e.to_string());
                            return false;
                        }
                    }
                }
                self.ctx = None;
                true
            }
            Step::Sleep(d) => tokio::select! {
                _ = stop.cancelled() => true,
                _ = tokio::time::sleep(*d) => true,
            },
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
