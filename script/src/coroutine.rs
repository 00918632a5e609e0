//! A scripted user's task as a Luau coroutine: resumed by the virtual user,
//! it runs until it asks for something ([`Step::Http`], [`Step::Sleep`]),
//! ends, or fails; the user does the work and resumes it with the answer.

use std::time::Duration;

use mlua::thread::ThreadStatus;
use mlua::{MultiValue, Table, Thread, Value};

use crate::error::ScriptError;
use crate::state::State;
use crate::{budget, convert};

/// An HTTP request a script asked for, as plain values.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCall {
    /// `GET`, `POST`, ...
    pub method: String,
    /// A path relative to the host, or a full URL.
    pub path: String,
    /// Query parameters to append.
    pub query: Vec<(String, String)>,
    /// Request headers (win over session headers).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: HttpBody,
    /// The stats row's name (the path without its query otherwise).
    pub name: Option<String>,
    /// Per-request timeout.
    pub timeout: Option<Duration>,
    /// Follow redirects (true unless set).
    pub follow_redirects: Option<bool>,
    /// `auto`, `1.1` or `2` as written (the engine checks it); the class's
    /// or the run's when unset.
    pub http_version: Option<String>,
    /// Statuses that pass; when empty, any status below 400 passes.
    pub status: Vec<u16>,
}

/// A scripted request's body.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpBody {
    /// None.
    Empty,
    /// `json = {...}`, sent as `application/json`.
    Json(serde_json::Value),
    /// `form = {...}`, sent as `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// `body = "..."`, sent as written.
    Raw(Vec<u8>),
}

/// What the user hands back to the script after a request.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// Status code (0 when no response came).
    pub status: u16,
    /// Why the request failed, if it did (the stats row's failure message).
    pub error: Option<String>,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// The decoded body.
    pub body: bytes::Bytes,
    /// Time to the response.
    pub elapsed: Duration,
}

/// How the user resumes a coroutine.
#[derive(Debug)]
pub enum Resume {
    /// The first resume.
    Start,
    /// The answer to a [`Step::Http`].
    Response(Response),
    /// A [`Step::Sleep`] is over.
    Woke,
}

/// What the script does next.
#[derive(Debug)]
pub enum Step {
    /// Send this request and resume with its response.
    Http(HttpCall),
    /// Pause, then resume.
    Sleep(Duration),
    /// The task is done.
    Done,
    /// The task failed. `check` is true for `check`/`fail`, which also fail
    /// the request before them, as Locust's `response.failure()` does.
    Failed {
        /// The message, with the script's line.
        message: String,
        /// Whether `check` or `fail` raised it.
        check: bool,
    },
}

/// One run of a scripted task, bound to the state it was made in.
#[derive(Debug)]
pub struct Coroutine {
    /// `None` once the task ended (its thread went back to the state).
    pub(crate) thread: Option<Thread>,
    pub(crate) user: Table,
    pub(crate) state: usize,
}

impl Coroutine {
    /// Runs the task until its next step; `state` is the one it was made in.
    pub(crate) fn run(&mut self, state: &State, input: Resume) -> Step {
        let Some(thread) = &self.thread else {
            return Step::Done;
        };
        if thread.status() != ThreadStatus::Resumable {
            return Step::Done;
        }
        budget::start(state.limits.instructions, state.limits.memory_bytes);
        crate::state::clear_failure();
        let out = match input {
            Resume::Start => thread.resume::<MultiValue>(self.user.clone()),
            Resume::Woke => thread.resume::<MultiValue>(()),
            Resume::Response(r) => match state.lua.create_userdata(r) {
                Ok(ud) => thread.resume::<MultiValue>(ud),
                Err(e) => Err(e),
            },
        };
        match out {
            Err(e) => failed(&e),
            Ok(values) if thread.status() != ThreadStatus::Resumable => {
                drop(values);
                Step::Done
            }
            Ok(values) => match request(state, values) {
                Ok(step) => step,
                Err(e) => {
                    // A bad http or sleep call fails the task.
                    let message = ScriptError::runtime(&e).to_string();
                    Step::Failed {
                        message,
                        check: false,
                    }
                }
            },
        }
    }
}

fn failed(e: &mlua::Error) -> Step {
    match crate::state::take_failure() {
        Some(message) => Step::Failed {
            message,
            check: true,
        },
        None => Step::Failed {
            message: ScriptError::runtime(e).to_string(),
            check: false,
        },
    }
}

/// A yield's values: `("http", method, path, opts)` or `("sleep", seconds)`.
fn request(state: &State, values: MultiValue) -> mlua::Result<Step> {
    let mut it = values.into_iter();
    let kind = match it.next() {
        Some(Value::String(s)) => s.to_str()?.to_owned(),
        _ => {
            return Err(mlua::Error::RuntimeError(
                "a scripted task may yield only through http.* and sleep".into(),
            ));
        }
    };
    match kind.as_str() {
        "http" => {
            let method: String = state.lua.unpack(it.next().unwrap_or(Value::Nil))?;
            let path: String = state.lua.unpack(it.next().unwrap_or(Value::Nil))?;
            let opts: Option<Table> = state.lua.unpack(it.next().unwrap_or(Value::Nil))?;
            Ok(Step::Http(convert::http_call(
                &state.lua, method, path, opts,
            )?))
        }
        "sleep" => {
            let secs: f64 = state.lua.unpack(it.next().unwrap_or(Value::Nil))?;
            Ok(Step::Sleep(Duration::from_secs_f64(
                secs.clamp(0.0, 86_400.0),
            )))
        }
        _ => Err(mlua::Error::RuntimeError(
            "a scripted task may yield only through http.* and sleep".into(),
        )),
    }
}
