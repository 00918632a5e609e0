//! The scenario language: YAML user classes with steps, templates,
//! expectations, extractions and control flow, and the Luau scripts it
//! names (`scripts:`, scripted classes, `script:` steps). [`ScenarioSource`] is the file plus the data
//! files it names (what the master ships to workers); [`ScenarioSource::compile`]
//! validates it into a [`Scenario`] before any load is sent.

mod compile;
mod error;
mod flow;
mod load;
pub mod model;
mod raw;
mod scripts;
mod steps;
pub mod template;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use error::ScenarioError;
pub(crate) use error::source_lines;
pub use model::*;

use error::Locator;
use raw::RawScenario;

/// A scenario file's text and the data files it refers to, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioSource {
    /// The file as named on the command line (`-` for stdin), for messages.
    pub path: String,
    /// The YAML text.
    pub text: String,
    /// Data files by the name the scenario uses, with their contents.
    pub files: BTreeMap<String, String>,
}

impl ScenarioSource {
    /// Reads a scenario file (`-` reads stdin) and the data files it names,
    /// relative to the scenario's directory.
    ///
    /// # Errors
    ///
    /// A file that cannot be read, or YAML that does not parse.
    pub fn read(path: &str) -> Result<Self, ScenarioError> {
        let read_err = |file: &str, e: std::io::Error| ScenarioError::Read {
            file: file.to_owned(),
            message: format!("cannot read: {}", e.to_string().to_lowercase()),
        };
        let (text, base) = if path == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| read_err("<stdin>", e))?;
            (text, PathBuf::from("."))
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| read_err(path, e))?;
            let base = Path::new(path)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            (text, base)
        };
        let mut src = Self::from_text(if path == "-" { "<stdin>" } else { path }, text);
        let raw = parse_raw(&src)?;
        let loc = Locator {
            file: &src.path,
            text: &src.text,
        };
        let mut files = BTreeMap::new();
        let scripts = raw.scripts.iter().chain(
            raw.users
                .value
                .iter()
                .filter_map(|c| c.value.script.as_ref()),
        );
        for name in scripts {
            let full = base.join(&name.value);
            let content = std::fs::read_to_string(&full).map_err(|e| {
                loc.at(
                    &name.referenced,
                    format!(
                        "cannot read script `{}`: {}",
                        full.display(),
                        e.to_string().to_lowercase()
                    ),
                )
            })?;
            files.insert(name.value.clone(), content);
        }
        for class in &raw.users.value {
            if let Some(data) = &class.value.data {
                let name = &data.value.file.value;
                let full = base.join(name);
                let content = std::fs::read_to_string(&full).map_err(|e| {
                    loc.at(
                        &data.value.file.referenced,
                        format!(
                            "cannot read data file `{}`: {}",
                            full.display(),
                            e.to_string().to_lowercase()
                        ),
                    )
                })?;
                files.insert(name.clone(), content);
            }
        }
        src.files = files;
        Ok(src)
    }

    /// A scenario given as text, with no data files.
    pub fn from_text(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
            files: BTreeMap::new(),
        }
    }

    /// Validates and compiles the scenario.
    ///
    /// # Errors
    ///
    /// The first problem found, with its file:line:col.
    pub fn compile(&self) -> Result<Scenario, ScenarioError> {
        let raw = parse_raw(self)?;
        let loc = Locator {
            file: &self.path,
            text: &self.text,
        };
        compile::compile(loc, &self.files, raw)
    }
}

fn parse_raw(src: &ScenarioSource) -> Result<RawScenario, ScenarioError> {
    let loc = Locator {
        file: &src.path,
        text: &src.text,
    };
    serde_saphyr::from_str::<RawScenario>(&src.text).map_err(|e| {
        use serde_saphyr::MessageFormatter;
        let message = serde_saphyr::UserMessageFormatter
            .format_message(&e)
            .to_string();
        let message = lowercase_first(message.trim_end_matches('.'));
        match e.location() {
            Some(l) => loc.at(&l, message),
            None => ScenarioError::Read {
                file: src.path.clone(),
                message,
            },
        }
    })
}

/// The message with its first letter lowercase, unless it starts with an
/// acronym (`YAML document too large ...`).
fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match (c.next(), c.next()) {
        (Some(f), Some(second)) if f.is_uppercase() && second.is_uppercase() => s.to_owned(),
        (Some(f), _) => f.to_lowercase().chain(s.chars().skip(1)).collect(),
        (None, _) => String::new(),
    }
}
