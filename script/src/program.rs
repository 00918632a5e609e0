//! [`Program`]: the scripts of one scenario, checked once by
//! [`ProgramBuilder::build`] and then run in one state per worker thread,
//! each built on first use from the same sources. Everything a virtual user
//! asks of its scripts goes through here: shared functions ([`Program::call`]),
//! `script:` steps ([`Program::run_step`]) and scripted users' tasks
//! ([`Program::task`], [`Coroutine::resume`]).

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use mlua::{LuaSerdeExt, Table, Value};
use serde::Serialize;

use crate::coroutine::{Coroutine, Resume, Step};
use crate::error::ScriptError;
use crate::state::{State, UserScope};
use crate::{Limits, Source};

/// The sources of a program, in load order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parts {
    pub shared: Vec<Source>,
    pub users: Vec<Source>,
    pub steps: Vec<Source>,
}

/// What a scripted user class defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserScript {
    /// The script's name, for messages.
    pub name: String,
    /// Task functions and their weights, by name.
    pub tasks: Vec<(String, u32)>,
    /// Whether it defines `on_start(user)`.
    pub on_start: bool,
    /// Whether it defines `on_stop(user)`.
    pub on_stop: bool,
}

/// Which function of a scripted class a coroutine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserEntry {
    /// `on_start(user)`.
    Start,
    /// `on_stop(user)`.
    Stop,
    /// The task at this index of [`UserScript::tasks`].
    Task(usize),
}

/// Collects a scenario's scripts before they are checked together.
#[derive(Debug, Default)]
pub struct ProgramBuilder {
    parts: Parts,
}

impl ProgramBuilder {
    /// Adds a shared script (a `scripts:` file or an inline block): its
    /// global functions become callable from templates and steps.
    pub fn shared(&mut self, src: Source) {
        self.parts.shared.push(src);
    }

    /// Adds a scripted user class's script; returns its index.
    pub fn user(&mut self, src: Source) -> usize {
        self.parts.users.push(src);
        self.parts.users.len() - 1
    }

    /// Adds a `script:` step's code (run with the user's `vars`); returns its index.
    pub fn step(&mut self, src: Source) -> usize {
        self.parts.steps.push(src);
        self.parts.steps.len() - 1
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.parts.shared.is_empty() && self.parts.users.is_empty() && self.parts.steps.is_empty()
    }

    /// Loads everything into a first state: syntax, top levels and scripted
    /// classes are checked here, before any load.
    ///
    /// # Errors
    ///
    /// The first script that does not compile, fails at its top level, or
    /// is not a usable scripted class, with its name and line.
    pub fn build(self, limits: Limits) -> Result<Program, ScriptError> {
        let first = State::new(&self.parts, limits)?;
        let functions = first.functions.keys().cloned().collect();
        let users = first.user_scripts.clone();
        let n = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 64);
        let states: Box<[OnceLock<State>]> = (0..n).map(|_| OnceLock::new()).collect();
        let _ = states[0].set(first);
        Ok(Program {
            parts: self.parts,
            limits,
            functions,
            users,
            states,
        })
    }
}

/// A scenario's checked scripts and their states.
#[derive(Debug)]
pub struct Program {
    parts: Parts,
    limits: Limits,
    functions: BTreeSet<String>,
    users: Vec<UserScript>,
    states: Box<[OnceLock<State>]>,
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static THREAD_SLOT: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

impl Program {
    /// The shared functions, by name.
    pub fn functions(&self) -> &BTreeSet<String> {
        &self.functions
    }

    /// The scripted classes, by the index [`ProgramBuilder::user`] gave.
    pub fn user_script(&self, index: usize) -> &UserScript {
        &self.users[index]
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn state_at(&self, index: usize) -> Result<&State, ScriptError> {
        let cell = &self.states[index];
        if let Some(s) = cell.get() {
            return Ok(s);
        }
        let state = State::new(&self.parts, self.limits)?;
        Ok(cell.get_or_init(|| state))
    }

    /// This thread's state.
    fn home(&self) -> Result<(usize, &State), ScriptError> {
        let i = THREAD_SLOT.with(|s| *s) % self.states.len();
        Ok((i, self.state_at(i)?))
    }

    /// Calls a shared function with JSON-like arguments.
    ///
    /// # Errors
    ///
    /// A runtime error, the budget or the memory limit, as one line.
    pub fn call<A: Serialize>(
        &self,
        name: &str,
        args: &[A],
    ) -> Result<serde_json::Value, ScriptError> {
        self.home()?.1.call(name, args)
    }

    /// Runs `script:` step `step` for a YAML user: `changed` are the
    /// variables set since the user's last script step (all of them the
    /// first time); returns the variables the step assigned.
    ///
    /// # Errors
    ///
    /// As [`Program::call`].
    pub fn run_step<'v, V: Serialize + 'v>(
        &self,
        scope: &mut Option<UserScope>,
        step: usize,
        changed: impl IntoIterator<Item = (&'v str, &'v V)>,
    ) -> Result<Vec<(String, serde_json::Value)>, ScriptError> {
        let rt = |e: mlua::Error| ScriptError::runtime(&e);
        if scope.is_none() {
            let (i, state) = self.home()?;
            *scope = Some(UserScope::new(state, i).map_err(rt)?);
        }
        let scope = scope.as_ref().expect("set above");
        let state = self.state_at(scope.state)?;
        for (k, v) in changed {
            let v = crate::convert::to_lua(&state.lua, v).map_err(rt)?;
            scope.mirror.raw_set(k, v).map_err(rt)?;
        }
        crate::budget::start(self.limits.instructions, self.limits.memory_bytes);
        crate::state::clear_failure();
        state.steps[step]
            .call::<()>(scope.proxy.clone())
            .map_err(|e| match crate::state::take_failure() {
                Some(m) => ScriptError::Runtime(m),
                None => ScriptError::runtime(&e),
            })?;
        let mut out = Vec::new();
        let names: Vec<String> = scope
            .written
            .pairs::<String, Value>()
            .filter_map(|kv| kv.ok().map(|(k, _)| k))
            .collect();
        scope.written.clear().map_err(rt)?;
        for name in names {
            let v: Value = scope.mirror.raw_get(name.as_str()).map_err(rt)?;
            let json = state.lua.from_value(v).map_err(|e| {
                ScriptError::Runtime(format!(
                    "variable `{name}` cannot be used outside the script: {}",
                    crate::error::one_line(&e)
                ))
            })?;
            out.push((name, json));
        }
        Ok(out)
    }

    /// A scripted user's `user` table in this thread's state, holding
    /// `vars` (its index, class, variables and data row).
    ///
    /// # Errors
    ///
    /// A variable that cannot be a Luau value, or a state that cannot be built.
    pub fn new_user<'v, V: Serialize + 'v>(
        &self,
        vars: impl IntoIterator<Item = (&'v str, &'v V)>,
    ) -> Result<ScriptedUser, ScriptError> {
        let rt = |e: mlua::Error| ScriptError::runtime(&e);
        let (i, state) = self.home()?;
        let table = state.lua.create_table().map_err(rt)?;
        for (k, v) in vars {
            table
                .raw_set(k, crate::convert::to_lua(&state.lua, v).map_err(rt)?)
                .map_err(rt)?;
        }
        Ok(ScriptedUser { state: i, table })
    }

    /// A coroutine running `entry` of scripted class `class` for `user`;
    /// `None` when the class does not define that entry.
    ///
    /// # Errors
    ///
    /// The state cannot make a coroutine (out of memory).
    pub fn task(
        &self,
        user: &ScriptedUser,
        class: usize,
        entry: UserEntry,
    ) -> Result<Option<Coroutine>, ScriptError> {
        let state = self.state_at(user.state)?;
        let fns = &state.users[class];
        let f = match entry {
            UserEntry::Start => fns.on_start.as_ref(),
            UserEntry::Stop => fns.on_stop.as_ref(),
            UserEntry::Task(i) => fns.tasks.get(i),
        };
        let Some(f) = f else { return Ok(None) };
        let thread = state
            .thread(f.clone())
            .map_err(|e| ScriptError::runtime(&e))?;
        Ok(Some(Coroutine {
            thread: Some(thread),
            user: user.table.clone(),
            state: user.state,
        }))
    }
}

/// A scripted user's own table (Locust's `self`), in the state it lives in.
#[derive(Debug)]
pub struct ScriptedUser {
    state: usize,
    table: Table,
}

impl ScriptedUser {
    /// Sets a field the engine keeps up to date (`iteration`).
    pub fn set(&self, key: &str, value: f64) {
        let _ = self.table.raw_set(key, value);
    }
}

impl Coroutine {
    /// Runs the task until its next step.
    pub fn resume(&mut self, program: &Program, input: Resume) -> Step {
        let state = match program.state_at(self.state) {
            Ok(state) => state,
            Err(e) => {
                return Step::Failed {
                    message: e.to_string(),
                    check: false,
                };
            }
        };
        let step = self.run(state, input);
        if matches!(step, Step::Done | Step::Failed { .. })
            && let Some(t) = self.thread.take()
        {
            state.give_back(t);
        }
        step
    }
}
