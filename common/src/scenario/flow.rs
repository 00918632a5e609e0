//! Compiles the control flow steps: `if`/`then`/`else`, `loop` (while,
//! until, times, for_each, each bounded by `max`), `group`, `retry` on a
//! request, and `script:` steps (Luau code run with the user's `vars`).

use std::collections::BTreeSet;

use serde_saphyr::Location;

use super::compile::{Compiler, is_identifier};
use super::error::ScenarioError;
use super::model::{Condition, GroupStep, IfStep, LoopKind, LoopStep, Retry, ScriptStep, Step};
use super::raw::{RawLoop, RawRetry, RawStep, Sp, Text};
use crate::stats::GROUP_METHOD;

type Result<T> = std::result::Result<T, ScenarioError>;

/// The most passes a loop may allow, whatever its `max` says.
const MAX_PASSES: u32 = 1_000_000;

impl Compiler<'_> {
    /// The step when it is a control flow step, `None` otherwise.
    pub(crate) fn flow_step(
        &mut self,
        raw: &RawStep,
        at: &Location,
        known: &BTreeSet<String>,
    ) -> Result<Option<Step>> {
        if let Some(cond) = &raw.if_ {
            let condition = self.condition(cond, known)?;
            let Some(then) = raw.then.as_ref().filter(|t| !t.value.is_empty()) else {
                return Err(self.loc.at(at, "`if` needs `then:` steps"));
            };
            let then = self.steps(&then.value, known)?;
            let otherwise = match &raw.else_ {
                Some(e) => self.steps(&e.value, known)?,
                None => Vec::new(),
            };
            return Ok(Some(Step::If(Box::new(IfStep {
                condition,
                then,
                otherwise,
            }))));
        }
        if let Some(l) = &raw.loop_ {
            let steps = self.nested(raw, at, "loop", known)?;
            return Ok(Some(Step::Loop(Box::new(self.loop_step(l, steps, known)?))));
        }
        if let Some(name) = &raw.group {
            if name.value.trim().is_empty() {
                return Err(self.loc.at(&name.referenced, "group name is empty"));
            }
            let stat = self.stat_slot(GROUP_METHOD, name.value.trim());
            let steps = self.nested(raw, at, "group", known)?;
            return Ok(Some(Step::Group(Box::new(GroupStep { stat, steps }))));
        }
        if let Some(code) = &raw.script {
            let src = self.inline_source(code);
            let index = self.script.step(src);
            return Ok(Some(Step::Script(ScriptStep { index })));
        }
        Ok(None)
    }

    fn nested(
        &mut self,
        raw: &RawStep,
        at: &Location,
        what: &str,
        known: &BTreeSet<String>,
    ) -> Result<Vec<Step>> {
        match raw.steps.as_ref().filter(|s| !s.value.is_empty()) {
            Some(s) => self.steps(&s.value, known),
            None => Err(self.loc.at(at, format!("`{what}` needs `steps:`"))),
        }
    }

    pub(crate) fn condition(
        &mut self,
        raw: &Sp<Text>,
        known: &BTreeSet<String>,
    ) -> Result<Condition> {
        let template = self
            .templates
            .compile_condition(&raw.value.0, known)
            .map_err(|e| self.loc.at(&raw.referenced, e))?;
        Ok(Condition {
            template,
            source: raw.value.0.trim().to_owned(),
        })
    }

    fn loop_step(
        &mut self,
        raw: &Sp<RawLoop>,
        steps: Vec<Step>,
        known: &BTreeSet<String>,
    ) -> Result<LoopStep> {
        let l = &raw.value;
        let kinds = [
            l.while_.is_some(),
            l.until.is_some(),
            l.times.is_some(),
            l.for_each.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(self.loc.at(
                &raw.referenced,
                "`loop` takes exactly one of while, until, times, for_each",
            ));
        }
        let max = match (&l.max, &l.times) {
            (Some(m), _) if m.value == 0 || m.value > MAX_PASSES => {
                return Err(self.loc.at(
                    &m.referenced,
                    format!("`max` must be from 1 to {MAX_PASSES}"),
                ));
            }
            (Some(m), Some(t)) if t.value > m.value => {
                return Err(self
                    .loc
                    .at(&t.referenced, "`times` is above the loop's `max`"));
            }
            (Some(m), _) => m.value,
            (None, Some(t)) if t.value <= MAX_PASSES => t.value,
            (None, Some(t)) => {
                return Err(self.loc.at(
                    &t.referenced,
                    format!("`times` must be at most {MAX_PASSES}"),
                ));
            }
            (None, None) => {
                return Err(self.loc.at(
                    &raw.referenced,
                    "`loop` needs `max:`, the most passes it may make (a guard against a loop that never ends)",
                ));
            }
        };
        let kind = if let Some(c) = &l.while_ {
            LoopKind::While(self.condition(c, known)?)
        } else if let Some(c) = &l.until {
            LoopKind::Until(self.condition(c, known)?)
        } else if let Some(t) = &l.times {
            LoopKind::Times(t.value)
        } else {
            let f = l.for_each.as_ref().expect("one kind is set");
            let var = f.value.as_.value.clone();
            if !is_identifier(&var) {
                return Err(self.loc.at(
                    &f.value.as_.referenced,
                    format!("`{var}` is not a usable variable name"),
                ));
            }
            let items = self
                .templates
                .compile_value(&serde_json::Value::String(f.value.in_.value.clone()), known)
                .map_err(|e| self.loc.at(&f.value.in_.referenced, e))?;
            LoopKind::ForEach { items, var }
        };
        Ok(LoopStep { kind, max, steps })
    }

    pub(crate) fn retry(&mut self, raw: &Sp<RawRetry>, known: &BTreeSet<String>) -> Result<Retry> {
        let r = &raw.value;
        if r.attempts.value == 0 || r.attempts.value > 1000 {
            return Err(self
                .loc
                .at(&r.attempts.referenced, "`attempts` must be from 1 to 1000"));
        }
        let factor = match &r.factor {
            Some(f) if !(f.value.is_finite() && (1.0..=10.0).contains(&f.value)) => {
                return Err(self.loc.at(&f.referenced, "`factor` must be from 1 to 10"));
            }
            Some(f) => f.value,
            None => 1.0,
        };
        Ok(Retry {
            attempts: r.attempts.value,
            backoff: r
                .backoff
                .as_ref()
                .map(|b| self.duration(b))
                .transpose()?
                .unwrap_or_default(),
            factor,
            until: r
                .until
                .as_ref()
                .map(|u| self.condition(u, known))
                .transpose()?,
        })
    }
}

/// Variable names a step and the steps inside it assign: `extract`, `set`,
/// a loop's `for_each` variable, and `vars.NAME =` in a `script:` step.
pub(crate) fn assigned_names(step: &RawStep, out: &mut BTreeSet<String>) {
    out.extend(step.extract.keys().cloned());
    out.extend(step.set.iter().flat_map(|m| m.keys().cloned()));
    if let Some(f) = step.loop_.as_ref().and_then(|l| l.value.for_each.as_ref()) {
        out.insert(f.value.as_.value.clone());
    }
    if let Some(code) = &step.script {
        out.extend(script_assignments(&code.value));
    }
    for list in [&step.then, &step.else_, &step.steps].into_iter().flatten() {
        for s in &list.value {
            assigned_names(&s.value, out);
        }
    }
}

/// `vars.NAME = ...` and `vars["NAME"] = ...` in Luau code.
fn script_assignments(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut rest = code;
    let mut offset = 0;
    while let Some(i) = rest.find("vars") {
        let start = offset + i;
        let after = &code[start + 4..];
        let before_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let name = if let Some(r) = after.strip_prefix('.') {
            let n: String = r
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let tail = r[n.len()..].trim_start();
            (tail.starts_with('=') && !tail.starts_with("==")).then_some(n)
        } else if let Some(r) = after.strip_prefix("[\"") {
            r.find("\"]").and_then(|j| {
                let tail = r[j + 2..].trim_start();
                (tail.starts_with('=') && !tail.starts_with("==")).then(|| r[..j].to_owned())
            })
        } else {
            None
        };
        if let (true, Some(n)) = (before_ok, name)
            && is_identifier(&n)
        {
            out.push(n);
        }
        offset = start + 4;
        rest = &code[offset..];
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn script_assignments_are_found() {
        let names = super::script_assignments(
            "local t = 0\nvars.total = t\nvars[\"sig\"]= 1\nif vars.x == 1 then end\nmyvars.y = 2",
        );
        assert_eq!(names, vec!["total", "sig"]);
    }
}
