//! `stampede import`: a locustfile into a stampede scenario. The Python is
//! parsed with ruff's parser (`ruff_python_parser`); `translate` walks the
//! module's user classes, task sets and tasks into the steps of `model`,
//! `expr` turns expressions into templates, and `model` writes the YAML with
//! comments pointing back at the source lines. What cannot be translated
//! is named with its line and the reason, and kept as a comment.

mod expr;
mod model;
mod translate;

/// A construct the importer could not translate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslated {
    /// 1-based line in the locustfile.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// The source line, trimmed.
    pub source: String,
    /// Why it has no equivalent.
    pub reason: String,
}

/// The result of an import.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The scenario, as YAML.
    pub yaml: String,
    /// What was left out, in source order.
    pub untranslated: Vec<Untranslated>,
}

/// A locustfile that cannot be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not valid Python.
    #[error("{file}:{line}:{col}: python syntax error: {message}")]
    Syntax {
        /// The file as named.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// The parser's message, lowercase.
        message: String,
    },
    /// Valid Python, but no user class in it.
    #[error("{file}: no user class (a subclass of HttpUser or FastHttpUser) to import")]
    NoUsers {
        /// The file as named.
        file: String,
    },
}

/// Imports the locustfile `source`, named `file` in messages; `name` is the
/// scenario's name.
///
/// # Errors
///
/// Python that does not parse, or no user class.
pub fn import(file: &str, name: &str, source: &str) -> Result<Imported, ImportError> {
    translate::module(file, name, source)
}
