//! The steps of a YAML user: requests (with their retries), headers,
//! variables, sleeps, and the control flow (`if`, `loop`, `group`,
//! `script:`). A step that fails ends the steps around it.

use std::time::Duration;

use minijinja::Value;
use stampede_common::scenario::model::{
    Condition, GroupStep, LoopKind, LoopStep, RequestStep, Step,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Run, VirtualUser};
use crate::exchange;

impl VirtualUser<'_> {
    /// Runs steps in order until one fails or the user is stopped.
    pub(super) async fn steps(
        &mut self,
        steps: &[Step],
        stop: &CancellationToken,
        interruptible: bool,
    ) -> Run {
        for step in steps {
            if interruptible && stop.is_cancelled() {
                return Run::Stopped;
            }
            match self.step(step, stop, interruptible).await {
                Run::Completed => {}
                other => return other,
            }
        }
        Run::Completed
    }

    fn ok_or_exception(&self, r: Result<(), String>) -> Run {
        match r {
            Ok(()) => Run::Completed,
            Err(e) => {
                self.shared.recorder.record_exception(&e);
                Run::Failed
            }
        }
    }

    async fn step(&mut self, step: &Step, stop: &CancellationToken, interruptible: bool) -> Run {
        match step {
            Step::Request(req) => self.request(req, stop).await,
            Step::SetHeaders(headers) => {
                let r = self.set_headers(headers);
                self.ok_or_exception(r)
            }
            Step::Set(values) => {
                let r = self.set_values(values);
                self.ok_or_exception(r)
            }
            Step::Sleep(d) => {
                tokio::select! {
                    _ = stop.cancelled() => {},
                    _ = tokio::time::sleep(*d) => {},
                }
                Run::Completed
            }
            Step::If(s) => match self.holds(&s.condition) {
                Ok(true) => Box::pin(self.steps(&s.then, stop, interruptible)).await,
                Ok(false) => Box::pin(self.steps(&s.otherwise, stop, interruptible)).await,
                Err(e) => self.ok_or_exception(Err(e)),
            },
            Step::Loop(l) => Box::pin(self.run_loop(l, stop, interruptible)).await,
            Step::Group(g) => Box::pin(self.group(g, stop, interruptible)).await,
            Step::Tagged { step, .. } => Box::pin(self.step(step, stop, interruptible)).await,
            Step::Script(s) => {
                let r = self.script_step(s.index);
                self.ok_or_exception(r)
            }
        }
    }

    fn set_values(
        &mut self,
        values: &[(String, stampede_common::scenario::template::ValueTemplate)],
    ) -> Result<(), String> {
        let ctx = self.ctx();
        for (name, tpl) in values {
            let v = self
                .shared
                .scenario
                .templates
                .render_value(tpl, &ctx)
                .map_err(|e| e.to_string())?;
            self.set_var(name, Value::from_serialize(&v));
        }
        Ok(())
    }

    fn holds(&mut self, c: &Condition) -> Result<bool, String> {
        let ctx = self.ctx();
        self.shared
            .scenario
            .templates
            .holds(&c.template, &ctx)
            .map_err(|e| format!("condition `{}`: {e}", c.source))
    }

    /// One request, sent again while it fails and its `retry` allows: the
    /// attempts before the last count as requests, not failures, unless no
    /// response came at all.
    async fn request(&mut self, req: &RequestStep, stop: &CancellationToken) -> Run {
        let attempts = req.retry.as_ref().map_or(1, |r| r.attempts);
        for n in 1..=attempts {
            let ctx = self.ctx();
            // Boxed so an idle user task does not reserve the request's state.
            let out = Box::pin(exchange::perform(
                req,
                self.shared,
                self.base,
                &ctx,
                &mut self.user,
            ))
            .await;
            if !req.extract.is_empty() {
                self.vars_changed(req.extract.iter().map(|e| e.var.as_str()));
            }
            let mut error = out.error.clone();
            if let (None, Some(until)) = (&error, req.retry.as_ref().and_then(|r| r.until.as_ref()))
            {
                error = match self.holds(until) {
                    Ok(true) => None,
                    Ok(false) => Some(format!("retry until `{}` did not hold", until.source)),
                    Err(e) => Some(e),
                };
            }
            let last = n == attempts || !out.sent || out.transport;
            if error.is_none() || last {
                self.record(req.stat, &out, error.as_deref());
                return if error.is_none() || req.continue_on_failure {
                    Run::Completed
                } else {
                    Run::Failed
                };
            }
            self.record(req.stat, &out, None);
            let pause = req
                .retry
                .as_ref()
                .map_or(Duration::ZERO, |r| r.pause_before(n + 1));
            tokio::select! {
                _ = stop.cancelled() => return Run::Failed,
                _ = tokio::time::sleep(pause) => {},
            }
        }
        Run::Failed
    }

    async fn run_loop(
        &mut self,
        l: &LoopStep,
        stop: &CancellationToken,
        interruptible: bool,
    ) -> Run {
        let items = match &l.kind {
            LoopKind::ForEach { items, .. } => {
                let ctx = self.ctx();
                match self.shared.scenario.templates.render_value(items, &ctx) {
                    Ok(serde_json::Value::Array(list)) if list.len() > l.max as usize => {
                        return self.ok_or_exception(Err(format!(
                            "for_each over {} items, above the loop's max of {}",
                            list.len(),
                            l.max
                        )));
                    }
                    Ok(serde_json::Value::Array(list)) => list,
                    Ok(other) => {
                        return self.ok_or_exception(Err(format!(
                            "for_each `in` is not a list (got {})",
                            json_kind(&other)
                        )));
                    }
                    Err(e) => return self.ok_or_exception(Err(e.to_string())),
                }
            }
            _ => Vec::new(),
        };
        let mut pass = 0u32;
        loop {
            let go_on = match &l.kind {
                LoopKind::While(c) => match self.holds(c) {
                    Ok(b) => b,
                    Err(e) => return self.ok_or_exception(Err(e)),
                },
                LoopKind::Until(_) => true,
                LoopKind::Times(n) => pass < *n,
                LoopKind::ForEach { var, .. } => match items.get(pass as usize) {
                    Some(item) => {
                        self.set_var(var, Value::from_serialize(item));
                        true
                    }
                    None => false,
                },
            };
            if !go_on {
                return Run::Completed;
            }
            if pass == l.max {
                return self
                    .ok_or_exception(Err(format!("loop reached its max of {} passes", l.max)));
            }
            pass += 1;
            match self.steps(&l.steps, stop, interruptible).await {
                Run::Completed => {}
                other => return other,
            }
            if let LoopKind::Until(c) = &l.kind {
                match self.holds(c) {
                    Ok(true) => return Run::Completed,
                    Ok(false) if pass == l.max => {
                        return self.ok_or_exception(Err(format!(
                            "loop reached its max of {} passes before `{}` held",
                            l.max, c.source
                        )));
                    }
                    Ok(false) => {}
                    Err(e) => return self.ok_or_exception(Err(e)),
                }
            }
            if stop.is_cancelled() && interruptible {
                return Run::Stopped;
            }
        }
    }

    /// A group's steps, timed as one row of its own.
    async fn group(&mut self, g: &GroupStep, stop: &CancellationToken, interruptible: bool) -> Run {
        let started = Instant::now();
        let r = self.steps(&g.steps, stop, interruptible).await;
        if r != Run::Stopped {
            let out = exchange::Outcome {
                micros: started.elapsed().as_micros() as u64,
                content_bytes: 0,
                error: None,
                sent: true,
                transport: false,
            };
            let error = (r == Run::Failed).then_some("a step of the group failed");
            self.record(g.stat, &out, error);
        }
        r
    }

    /// A `script:` step: the variables changed since the last one go in,
    /// the ones it assigns come back.
    fn script_step(&mut self, index: usize) -> Result<(), String> {
        let Some(program) = self.shared.scenario.program.as_ref() else {
            return Err("the scenario has no scripts".into());
        };
        let vars = &self.user.vars;
        let state = self.script.get_or_insert_with(Default::default);
        let changed: Vec<(&str, &Value)> = match &state.changed {
            None => vars.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            Some(names) => names
                .iter()
                .filter_map(|n| vars.get_key_value(n))
                .map(|(k, v)| (k.as_str(), v))
                .collect(),
        };
        let scope = &mut state.scope;
        let out =
            stampede_script::with_rng(&mut state.rng, || program.run_step(scope, index, changed))
                .map_err(|e| e.to_string())?;
        state.changed = Some(Default::default());
        for (name, v) in out {
            self.user.vars.insert(name, Value::from_serialize(&v));
        }
        self.ctx = None;
        Ok(())
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}
