//! A scripted user's task: its Luau coroutine is resumed until it ends;
//! each `http.*` it yields is sent on the user's own session through the
//! same exchange as a YAML step, each `sleep` waited here. A request is
//! recorded when the script moves on, so that a `check` or `fail` right
//! after it fails it, as Locust's `catch_response` does.

use stampede_common::scenario::model::Tasks;
use stampede_script::{Resume, Step, UserEntry};
use tokio_util::sync::CancellationToken;

use super::{Run, VirtualUser};

/// Request names a scripted user remembers the slots of.
const NAMES_KEPT: usize = 16;
use crate::exchange::{self, Outcome};

impl VirtualUser<'_> {
    /// Runs `entry` of the class's script to its end.
    pub(super) async fn script_task(
        &mut self,
        entry: UserEntry,
        stop: &CancellationToken,
        interruptible: bool,
    ) -> Run {
        let shared = self.shared;
        let (Some(program), Tasks::Script { script, .. }) =
            (shared.scenario.program.as_ref(), &self.class.tasks)
        else {
            return Run::Completed;
        };
        let Some(user) = self.script.as_ref().and_then(|s| s.scripted.as_ref()) else {
            return Run::Failed;
        };
        let mut co = match program.task(user, *script, entry) {
            Ok(Some(co)) => co,
            Ok(None) => return Run::Completed,
            Err(e) => {
                shared.recorder.record_exception(&e.to_string());
                return Run::Failed;
            }
        };
        let mut input = Resume::Start;
        let mut pending: Option<(usize, Outcome)> = None;
        loop {
            if interruptible && stop.is_cancelled() {
                self.flush(pending.take());
                return Run::Stopped;
            }
            let rng = &mut self.script.as_mut().expect("a scripted user").rng;
            let step = stampede_script::with_rng(rng, || co.resume(program, input));
            match step {
                Step::Http(call) => {
                    self.flush(pending.take());
                    let Some(stat) = self.slot(&call) else {
                        shared.recorder.record_exception(&format!(
                            "more than {} distinct request names: give dynamic paths a `name`",
                            stampede_common::stats::MAX_NAMED
                        ));
                        return Run::Failed;
                    };
                    let (out, back) = Box::pin(exchange::perform_call(
                        &call,
                        shared,
                        self.base,
                        &mut self.user,
                    ))
                    .await;
                    pending = Some((stat, out));
                    input = Resume::Response(back);
                }
                Step::Sleep(d) => {
                    self.flush(pending.take());
                    tokio::select! {
                        _ = stop.cancelled(), if interruptible => return Run::Stopped,
                        _ = tokio::time::sleep(d) => {},
                    }
                    input = Resume::Woke;
                }
                Step::Done => {
                    self.flush(pending.take());
                    return Run::Completed;
                }
                Step::Failed { message, check } => {
                    match pending.take() {
                        Some((stat, out)) if check && out.sent => {
                            self.record(stat, &out, Some(&message));
                        }
                        other => {
                            self.flush(other);
                            shared.recorder.record_exception(&message);
                        }
                    }
                    return Run::Failed;
                }
            }
        }
    }

    /// The stats slot of a scripted request, remembered per user so that a
    /// task's requests do not look their names up every time.
    fn slot(&mut self, call: &stampede_script::HttpCall) -> Option<usize> {
        let name = match &call.name {
            Some(n) => n.as_str(),
            None => call.path.split('?').next().unwrap_or(""),
        };
        let names = &mut self.script.as_mut().expect("a scripted user").names;
        if let Some((_, _, slot)) = names
            .iter()
            .find(|(m, n, _)| *m == call.method && n == name)
        {
            return Some(*slot);
        }
        let slot = self.shared.recorder.slot(&call.method, name)?;
        if names.len() < NAMES_KEPT {
            names.push((call.method.clone(), name.to_owned(), slot));
        }
        Some(slot)
    }

    fn flush(&self, pending: Option<(usize, Outcome)>) {
        if let Some((stat, out)) = pending {
            self.record(stat, &out, out.error.as_deref());
        }
    }
}
