//! Luau scripts of a scenario: what YAML cannot say. A [`Program`] is every
//! script of one scenario (shared `scripts:` files and inline blocks, the
//! scripted user classes, the `script:` steps), compiled and checked once;
//! it then runs in a few sandboxed Luau states, one per worker thread, each
//! with the standard library of `stdlib` (hashes, HMAC, base64, hex, JSON,
//! URL encoding, UUIDs, time, random numbers from the user's generator).
//!
//! Script functions are called synchronously ([`Program::call`], from
//! templates and load shapes) or run as a user's coroutine ([`Coroutine`])
//! whose `http.*` and `sleep` calls are yields the virtual user performs on
//! its own session; the engine's one HTTP path stays the only one.
//!
//! Every call runs under an instruction budget and every state under a
//! memory limit ([`Limits`]); a script that exceeds one fails that call with
//! a clear message and leaves the state usable.

mod budget;
mod convert;
mod coroutine;
mod error;
mod program;
mod state;
mod stdlib;

pub use coroutine::{Coroutine, HttpBody, HttpCall, Response, Resume, Step};
pub use error::ScriptError;
pub use program::{Program, ProgramBuilder, ScriptedUser, UserEntry, UserScript};
pub use state::UserScope;
pub use stdlib::with_rng;

/// Limits every script call runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Interrupt points (loop iterations and function calls) one call may
    /// pass before it is stopped: Luau's measure of instructions run.
    pub instructions: u64,
    /// Bytes one Luau state (all the users of one worker thread) may hold.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            instructions: 1_000_000,
            memory_bytes: 256 << 20,
        }
    }
}

/// A script's name and text; errors point at `name:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Shown in messages: a file name, or the scenario's file for an inline block.
    pub name: String,
    /// The Luau code.
    pub text: String,
    /// The line of `name` the text starts on (1 for a file of its own).
    pub first_line: usize,
}

impl Source {
    /// A script file of its own.
    pub fn file(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            first_line: 1,
        }
    }

    /// The text with blank lines before it, so that Luau's line numbers are
    /// the ones of the file it was written in.
    fn padded(&self, prefix: &str, suffix: &str) -> String {
        let pad = self.first_line.saturating_sub(1);
        let mut s = String::with_capacity(pad + prefix.len() + self.text.len() + suffix.len());
        for _ in 0..pad {
            s.push('\n');
        }
        s.push_str(prefix);
        s.push_str(&self.text);
        s.push_str(suffix);
        s
    }
}
