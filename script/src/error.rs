//! [`ScriptError`]: one lowercase line naming the script, its line and what
//! went wrong, built from Luau's messages without their tracebacks.

/// A script that failed to compile, to load, or to run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// Luau refused the text, or running its top level failed.
    #[error("{0}")]
    Load(String),
    /// The scripts are valid Luau but not a usable scenario script.
    #[error("{0}")]
    Invalid(String),
    /// A call failed at run time.
    #[error("{0}")]
    Runtime(String),
    /// A call ran past its instruction budget.
    #[error("script ran past its budget of {0} instructions (a loop that does not end?)")]
    Budget(u64),
    /// A state ran out of its memory limit.
    #[error("script ran out of memory (limit {0} MiB per worker thread)")]
    Memory(usize),
}

impl ScriptError {
    /// A runtime error from Luau, as one line without the traceback.
    pub(crate) fn runtime(e: &mlua::Error) -> Self {
        if let Some(b) = crate::budget::exceeded() {
            return ScriptError::Budget(b);
        }
        match root(e) {
            mlua::Error::MemoryError(_) => ScriptError::Memory(crate::budget::memory_mib()),
            other => ScriptError::Runtime(one_line(other)),
        }
    }

    /// A load-time error from Luau (syntax, or the top level failing).
    pub(crate) fn load(e: &mlua::Error) -> Self {
        match ScriptError::runtime(e) {
            ScriptError::Runtime(m) => ScriptError::Load(m),
            other => other,
        }
    }
}

fn root(e: &mlua::Error) -> &mlua::Error {
    match e {
        mlua::Error::CallbackError { cause, .. } => root(cause),
        mlua::Error::WithContext { cause, .. } => root(cause),
        other => other,
    }
}

/// The first line of Luau's message, without mlua's wrapping.
pub(crate) fn one_line(e: &mlua::Error) -> String {
    let text = match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::ExternalError(x) => x.to_string(),
        other => other.to_string(),
    };
    let line = text.lines().next().unwrap_or("").trim();
    let line = line.strip_prefix("runtime error: ").unwrap_or(line);
    let line = line.strip_prefix("syntax error: ").unwrap_or(line);
    lowercase_message(line)
}

/// Luau writes `name:3: Expected ...`: lowercase the message after the place.
fn lowercase_message(s: &str) -> String {
    let start = place_end(s).unwrap_or_default();
    let (place, msg) = s.split_at(start);
    let msg = msg.trim_start();
    let mut c = msg.chars();
    let msg: String = match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    };
    if place.is_empty() {
        msg
    } else {
        format!("{place} {msg}")
    }
}

/// The end of a leading `name:line:` in `s`.
fn place_end(s: &str) -> Option<usize> {
    for (i, _) in s.match_indices(':') {
        let rest = &s[i + 1..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(':') {
            return Some(i + 1 + digits + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luau_places_are_kept_and_messages_lowercased() {
        assert_eq!(
            lowercase_message("sign.luau:3: Expected 'end'"),
            "sign.luau:3: expected 'end'"
        );
        assert_eq!(lowercase_message("Boom"), "boom");
        assert_eq!(
            lowercase_message("a/b.yaml:12: Attempt to index nil"),
            "a/b.yaml:12: attempt to index nil"
        );
    }
}
