//! One sandboxed Luau state with everything of a [`crate::Program`] loaded:
//! the standard library, the shared scripts' functions in the (then frozen)
//! globals, each scripted class in a frozen environment of its own, and the
//! `script:` steps as functions of the user's variables. [`UserScope`] is a
//! YAML user's variables as seen by its `script:` steps.

use std::cell::RefCell;

use mlua::{Function, Lua, LuaOptions, LuaSerdeExt, StdLib, Table, Value, VmState};
use serde::Serialize;

use crate::error::ScriptError;
use crate::program::Parts;
use crate::{Limits, Source, budget, stdlib};

thread_local! {
    static FAILURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub(crate) fn clear_failure() {
    FAILURE.with(|f| f.borrow_mut().take());
}

pub(crate) fn take_failure() -> Option<String> {
    FAILURE.with(|f| f.borrow_mut().take())
}

/// A scripted class's entry points in one state.
#[derive(Debug)]
pub(crate) struct UserFns {
    pub on_start: Option<Function>,
    pub on_stop: Option<Function>,
    /// In the order of [`crate::UserScript::tasks`].
    pub tasks: Vec<Function>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub lua: Lua,
    pub limits: Limits,
    pub functions: std::collections::HashMap<String, Function>,
    pub users: Vec<UserFns>,
    /// What the scripted classes define, as found in this state.
    pub user_scripts: Vec<crate::UserScript>,
    pub steps: Vec<Function>,
    /// Coroutines whose task ended, kept to run the next tasks (resetting
    /// one is cheaper than making one).
    pub spare: std::sync::Mutex<Vec<mlua::Thread>>,
}

/// Finished coroutines a state keeps for reuse.
const SPARE_THREADS: usize = 256;

impl State {
    /// A coroutine running `f`: a spare one reset, or a new one.
    pub(crate) fn thread(&self, f: Function) -> mlua::Result<mlua::Thread> {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match spare {
            Some(t) => {
                t.reset(f)?;
                Ok(t)
            }
            None => self.lua.create_thread(f),
        }
    }

    /// Takes back the coroutine of a task that ended.
    pub(crate) fn give_back(&self, t: mlua::Thread) {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < SPARE_THREADS {
            spare.push(t);
        }
    }
}

fn load_err(src: &Source) -> impl Fn(mlua::Error) -> ScriptError + '_ {
    move |e| match ScriptError::load(&e) {
        ScriptError::Load(m) if !m.starts_with(src.name.as_str()) => {
            ScriptError::Load(format!("{}: {m}", src.name))
        }
        other => other,
    }
}

impl State {
    /// A fresh state with `parts` loaded. The first state built is the check
    /// of a program: its errors are the scripts' errors.
    pub(crate) fn new(parts: &Parts, limits: Limits) -> Result<State, ScriptError> {
        let lua = Lua::new_with(StdLib::ALL_SAFE, LuaOptions::default())
            .map_err(|e| ScriptError::Load(format!("cannot start luau: {e}")))?;
        let setup = |e: mlua::Error| ScriptError::Load(format!("cannot set up luau: {e}"));
        lua.set_memory_limit(limits.memory_bytes).map_err(setup)?;
        lua.set_interrupt(|_| {
            if budget::spend() {
                Ok(VmState::Continue)
            } else {
                Err(mlua::Error::RuntimeError(
                    "instruction budget exceeded".into(),
                ))
            }
        });
        stdlib::install(&lua).map_err(setup)?;
        install_checks(&lua).map_err(setup)?;
        budget::start(limits.instructions, limits.memory_bytes);
        lua.load(include_str!("prelude.luau"))
            .set_name("=prelude")
            .exec()
            .map_err(setup)?;
        let globals = lua.globals();
        let before: std::collections::HashSet<String> = globals
            .pairs::<String, Value>()
            .filter_map(|kv| kv.ok().map(|(k, _)| k))
            .collect();
        for src in &parts.shared {
            budget::start(limits.instructions, limits.memory_bytes);
            lua.load(src.padded("", ""))
                .set_name(format!("={}", src.name))
                .exec()
                .map_err(load_err(src))?;
        }
        let mut functions = std::collections::HashMap::new();
        for kv in globals.pairs::<String, Value>() {
            let (k, v) = kv.map_err(setup)?;
            if let (false, Value::Function(f)) = (before.contains(&k), v) {
                functions.insert(k, f);
            }
        }
        let mut users = Vec::new();
        let mut user_scripts = Vec::new();
        for src in &parts.users {
            let (fns, script) = load_user(&lua, &globals, src, limits)?;
            users.push(fns);
            user_scripts.push(script);
        }
        let mut steps = Vec::new();
        for src in &parts.steps {
            budget::start(limits.instructions, limits.memory_bytes);
            let f: Function = lua
                .load(src.padded("return function(vars) ", "\nend"))
                .set_name(format!("={}", src.name))
                .eval()
                .map_err(load_err(src))?;
            steps.push(f);
        }
        // Freezes the globals and the libraries: a script writing a global
        // gets "attempt to modify a readonly table", and state stays per user.
        lua.sandbox(true).map_err(setup)?;
        Ok(State {
            lua,
            limits,
            functions,
            users,
            user_scripts,
            steps,
            spare: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Calls a shared function with `args`, returning its JSON result.
    pub(crate) fn call<A: Serialize>(
        &self,
        name: &str,
        args: &[A],
    ) -> Result<serde_json::Value, ScriptError> {
        let f = self
            .functions
            .get(name)
            .ok_or_else(|| ScriptError::Invalid(format!("no script function `{name}`")))?;
        let mut values = mlua::MultiValue::new();
        for a in args {
            values.push_back(
                crate::convert::to_lua(&self.lua, a).map_err(|e| ScriptError::runtime(&e))?,
            );
        }
        budget::start(self.limits.instructions, self.limits.memory_bytes);
        clear_failure();
        let out: Value = f.call(values).map_err(|e| match take_failure() {
            Some(m) => ScriptError::Runtime(m),
            None => ScriptError::runtime(&e),
        })?;
        self.lua.from_value(out).map_err(|e| {
            ScriptError::Runtime(format!("`{name}` returned {}", crate::error::one_line(&e)))
        })
    }
}

fn load_user(
    lua: &Lua,
    globals: &Table,
    src: &Source,
    limits: Limits,
) -> Result<(UserFns, crate::UserScript), ScriptError> {
    let setup = |e: mlua::Error| ScriptError::Load(format!("{}: {e}", src.name));
    let env = lua.create_table().map_err(setup)?;
    let meta = lua.create_table().map_err(setup)?;
    meta.raw_set("__index", globals.clone()).map_err(setup)?;
    env.set_metatable(Some(meta)).map_err(setup)?;
    budget::start(limits.instructions, limits.memory_bytes);
    lua.load(src.padded("", ""))
        .set_name(format!("={}", src.name))
        .set_environment(env.clone())
        .exec()
        .map_err(load_err(src))?;
    let get = |name: &str| env.raw_get::<Option<Function>>(name).ok().flatten();
    let tasks = task_list(&env, src)?;
    let fns = UserFns {
        on_start: get("on_start"),
        on_stop: get("on_stop"),
        tasks: tasks
            .iter()
            .map(|(n, _)| get(n).expect("task_list checks"))
            .collect(),
    };
    let script = crate::UserScript {
        name: src.name.clone(),
        tasks,
        on_start: fns.on_start.is_some(),
        on_stop: fns.on_stop.is_some(),
    };
    env.set_readonly(true);
    Ok((fns, script))
}

/// The class's tasks and weights: `tasks = { browse = 3, order = 1 }`, or
/// `tasks = { "browse", "order" }`, or without `tasks` every function the
/// script defines except `on_start`, `on_stop` and names starting with `_`.
fn task_list(env: &Table, src: &Source) -> Result<Vec<(String, u32)>, ScriptError> {
    let bad = |m: String| ScriptError::Invalid(format!("{}: {m}", src.name));
    let is_fn = |n: &str| matches!(env.raw_get::<Value>(n), Ok(Value::Function(_)));
    let mut out: Vec<(String, u32)> = Vec::new();
    match env.raw_get::<Value>("tasks").unwrap_or(Value::Nil) {
        Value::Nil => {
            for kv in env.pairs::<String, Value>() {
                let Ok((k, v)) = kv else { continue };
                if matches!(v, Value::Function(_))
                    && k != "on_start"
                    && k != "on_stop"
                    && !k.starts_with('_')
                {
                    out.push((k, 1));
                }
            }
        }
        Value::Table(t) => {
            for kv in t.pairs::<Value, Value>() {
                let (k, v) = kv.map_err(|e| bad(e.to_string()))?;
                let (name, weight) = match (k, v) {
                    (Value::Integer(_) | Value::Number(_), Value::String(n)) => {
                        (n.to_string_lossy(), 1.0)
                    }
                    (Value::String(n), Value::Integer(w)) => (n.to_string_lossy(), w as f64),
                    (Value::String(n), Value::Number(w)) => (n.to_string_lossy(), w),
                    _ => {
                        return Err(bad(
                            "`tasks` must map task function names to weights, or list names".into(),
                        ));
                    }
                };
                if !(weight >= 1.0 && weight.fract() == 0.0 && weight <= f64::from(u32::MAX)) {
                    return Err(bad(format!(
                        "task `{name}` has weight {weight}: weights are whole numbers from 1"
                    )));
                }
                if !is_fn(&name) {
                    return Err(bad(format!(
                        "`tasks` names `{name}`, which is not a function of the script"
                    )));
                }
                out.push((name, weight as u32));
            }
        }
        other => {
            return Err(bad(format!(
                "`tasks` must be a table, got {}",
                other.type_name()
            )));
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(bad(
            "defines no task: write functions of the user, or a `tasks` table".into(),
        ));
    }
    Ok(out)
}

/// `check(cond, msg)` and `fail(msg)`: fail the task (and the request just
/// before, as Locust's `response.failure()`), with the script's line.
fn install_checks(lua: &Lua) -> mlua::Result<()> {
    fn raise(lua: &Lua, msg: String) -> mlua::Error {
        let place = lua
            .inspect_stack(1, |d| {
                let src = d.source();
                let name = src.short_src.as_deref().unwrap_or("?").to_owned();
                d.current_line().map(|l| format!("{name}:{l}"))
            })
            .flatten();
        let message = match place {
            Some(p) => format!("{msg} ({p})"),
            None => msg,
        };
        FAILURE.with(|f| *f.borrow_mut() = Some(message.clone()));
        mlua::Error::RuntimeError(message)
    }
    let g = lua.globals();
    g.raw_set(
        "check",
        lua.create_function(|lua, (ok, msg): (Value, Option<String>)| {
            if matches!(ok, Value::Nil | Value::Boolean(false)) {
                return Err(raise(lua, msg.unwrap_or_else(|| "check failed".into())));
            }
            Ok(())
        })?,
    )?;
    g.raw_set(
        "fail",
        lua.create_function(|lua, msg: Option<String>| -> mlua::Result<()> {
            Err(raise(lua, msg.unwrap_or_else(|| "failed".into())))
        })?,
    )?;
    Ok(())
}

/// A YAML user's variables as its `script:` steps see them: a table kept in
/// one state for the user's life. Only variables changed since the last
/// step are converted in, and only those a step assigned come back out.
#[derive(Debug)]
pub struct UserScope {
    pub(crate) state: usize,
    /// The variables as Luau values.
    pub(crate) mirror: Table,
    /// What steps see as `vars`: reads from `mirror`, writes noted in `written`.
    pub(crate) proxy: Table,
    pub(crate) written: Table,
}

impl UserScope {
    pub(crate) fn new(state: &State, index: usize) -> mlua::Result<Self> {
        let lua = &state.lua;
        let mirror = lua.create_table()?;
        let written = lua.create_table()?;
        let proxy = lua.create_table()?;
        let meta = lua.create_table()?;
        meta.raw_set("__index", mirror.clone())?;
        let (m, w) = (mirror.clone(), written.clone());
        meta.raw_set(
            "__newindex",
            lua.create_function(move |_, (_, k, v): (Table, String, Value)| {
                m.raw_set(k.as_str(), v)?;
                w.raw_set(k, true)
            })?,
        )?;
        proxy.set_metatable(Some(meta))?;
        Ok(Self {
            state: index,
            mirror,
            proxy,
            written,
        })
    }
}
