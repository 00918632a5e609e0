//! A scripted user's task: its Luau coroutine is resumed until it ends;
//! each `http.*` it yields is sent on the user's own session through the
//! same exchange as a YAML step, each `sleep` waited here. A request is
//! recorded when the script moves on, so that a `check` or `fail` right
//! after it fails it, as Locust's `catch_response` does.

use stampede_common::scenario::model::Tasks;
use stampede_script::{Resume, Step, UserEntry};
use tokio_util::sync::CancellationToken;

use super::{Run, VirtualUser};
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
        let Some(user) = &self.scripted else {
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
            let step = stampede_script::with_rng(&mut self.rng, || co.resume(program, input));
            match step {
                Step::Http(call) => {
                    self.flush(pending.take());
                    let name = call
                        .name
                        .clone()
                        .unwrap_or_else(|| call.path.split('?').next().unwrap_or("").to_owned());
                    let Some(stat) = shared.recorder.slot(&call.method, &name) else {
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

    fn flush(&self, pending: Option<(usize, Outcome)>) {
        if let Some((stat, out)) = pending {
            self.record(stat, &out, out.error.as_deref());
        }
    }
}
