//! The scenario's scripts as the compiler meets them: `scripts:` files and
//! inline `script:` blocks (checked first, so that templates know their
//! functions), scripted classes, `script_limits`, the program built once
//! everything is gathered, a `shape:` function, and script errors placed
//! at file:line:col in the scenario.

use std::sync::Arc;

use stampede_script::{Limits, Program, ProgramBuilder, ScriptError, Source};

use super::compile::Compiler;
use super::error::ScenarioError;
use super::model::{Tasks, UserClass};
use super::raw::{RawScenario, RawUserClass, Sp};

type Result<T> = std::result::Result<T, ScenarioError>;

impl Compiler<'_> {
    /// A scripted class's tasks (`script: user.luau`), filled in from the
    /// program once it is built; the class has no YAML steps of its own.
    pub(crate) fn scripted_tasks(&mut self, raw: &RawUserClass) -> Result<Tasks> {
        let script = raw.script.as_ref().expect("the caller checked");
        let yaml_steps = [
            ("on_start", !raw.on_start.is_empty()),
            ("on_stop", !raw.on_stop.is_empty()),
            ("sequence", raw.sequence.is_some()),
            ("tasks", raw.tasks.is_some()),
        ];
        if let Some((key, _)) = yaml_steps.iter().find(|(_, set)| *set) {
            return Err(self.loc.at(
                &script.referenced,
                format!("a scripted user has no `{key}`: its script defines on_start, its tasks and on_stop"),
            ));
        }
        let text = self.script_text(script)?;
        Ok(Tasks::Script {
            script: self.script.user(Source::file(script.value.clone(), text)),
            tasks: Vec::new(),
            total_weight: 0,
        })
    }

    /// The text of a script file the scenario names.
    fn script_text(&mut self, name: &Sp<String>) -> Result<String> {
        let text = self.files.get(&name.value).ok_or_else(|| {
            self.loc.at(
                &name.referenced,
                format!("script `{}` was not loaded", name.value),
            )
        })?;
        self.script_spans
            .push((name.value.clone(), name.referenced));
        Ok(text.clone())
    }

    /// Inline Luau, numbered with the scenario's own lines.
    pub(crate) fn inline_source(&self, code: &Sp<String>) -> Source {
        let at = code.referenced;
        let line = at.line() as usize;
        let block = self
            .loc
            .text
            .lines()
            .nth(line.saturating_sub(1))
            .and_then(|l| l.get((at.column() as usize).saturating_sub(1)..))
            .is_some_and(|rest| rest.starts_with('|') || rest.starts_with('>'));
        Source {
            name: self.loc.file.to_owned(),
            text: code.value.clone(),
            first_line: if block { line + 1 } else { line },
        }
    }

    /// `scripts:` and `script:` of the scenario: checked on their own first,
    /// so that templates know the functions they define.
    pub(crate) fn shared_scripts(&mut self, raw: &RawScenario) -> Result<()> {
        let mut sources = Vec::new();
        for name in &raw.scripts {
            let text = self.script_text(name)?;
            sources.push(Source::file(name.value.clone(), text));
        }
        if let Some(code) = &raw.script {
            sources.push(self.inline_source(code));
        }
        if sources.is_empty() {
            return Ok(());
        }
        let mut check = ProgramBuilder::default();
        for src in sources {
            check.shared(src.clone());
            self.script.shared(src);
        }
        let program = check
            .build(self.limits(raw)?)
            .map_err(|e| self.script_error(e))?;
        self.templates.declare_script_functions(program.functions());
        Ok(())
    }

    fn limits(&self, raw: &RawScenario) -> Result<Limits> {
        let mut limits = Limits::default();
        if let Some(l) = &raw.script_limits {
            if let Some(i) = &l.value.instructions {
                if i.value < 1000 {
                    return Err(self
                        .loc
                        .at(&i.referenced, "`instructions` must be at least 1000"));
                }
                limits.instructions = i.value;
            }
            if let Some(m) = &l.value.memory_mb {
                if !(1..=65536).contains(&m.value) {
                    return Err(self
                        .loc
                        .at(&m.referenced, "`memory_mb` must be from 1 to 65536"));
                }
                limits.memory_bytes = (m.value as usize) << 20;
            }
        }
        Ok(limits)
    }

    /// Builds the program of every script, binds its functions to the
    /// templates and fills in the scripted classes' tasks.
    pub(crate) fn build_program(
        &mut self,
        raw: &RawScenario,
        classes: &mut [UserClass],
    ) -> Result<Option<Arc<Program>>> {
        if self.script.is_empty() {
            if let Some(l) = &raw.script_limits {
                return Err(self
                    .loc
                    .at(&l.referenced, "`script_limits` without any script"));
            }
            return Ok(None);
        }
        let limits = self.limits(raw)?;
        let program = std::mem::take(&mut self.script)
            .build(limits)
            .map_err(|e| self.script_error(e))?;
        let program = Arc::new(program);
        self.templates.bind_program(&program);
        for class in classes {
            if let Tasks::Script {
                script,
                tasks,
                total_weight,
            } = &mut class.tasks
            {
                *tasks = program.user_script(*script).tasks.clone();
                *total_weight = tasks.iter().map(|t| t.1).sum();
            }
        }
        Ok(Some(program))
    }

    /// `shape: fn`: a function of the scripts, instead of stages or a rate.
    pub(crate) fn code_shape(
        &self,
        raw: &RawScenario,
        program: Option<&Program>,
    ) -> Result<Option<String>> {
        let Some(shape) = &raw.shape else {
            return Ok(None);
        };
        if raw.stages.is_some() || raw.arrival_rate.is_some() {
            return Err(self.loc.at(
                &shape.referenced,
                "`shape` cannot be set with `stages` or `arrival_rate`",
            ));
        }
        let name = shape.value.trim();
        if !program.is_some_and(|p| p.functions().contains(name)) {
            return Err(self.loc.at(
                &shape.referenced,
                format!("`shape` names `{name}`, which no script of the scenario defines"),
            ));
        }
        Ok(Some(name.to_owned()))
    }

    /// A script's error at the place in the scenario it belongs to.
    fn script_error(&self, e: ScriptError) -> ScenarioError {
        let msg = e.to_string();
        if let Some(rest) = msg
            .strip_prefix(self.loc.file)
            .and_then(|r| r.strip_prefix(':'))
        {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let (Ok(line), Some(tail)) = (
                digits.parse::<u64>(),
                rest[digits.len()..].strip_prefix(':'),
            ) {
                let col = self
                    .loc
                    .text
                    .lines()
                    .nth(line.saturating_sub(1) as usize)
                    .map_or(1, |l| (l.len() - l.trim_start().len() + 1) as u64);
                return self
                    .loc
                    .at_line_col(line, col, format!("script: {}", tail.trim()));
            }
        }
        for (name, at) in &self.script_spans {
            if msg.starts_with(name.as_str()) {
                return self.loc.at(at, format!("script {msg}"));
            }
        }
        ScenarioError::Read {
            file: self.loc.file.to_owned(),
            message: format!("script {msg}"),
        }
    }
}
