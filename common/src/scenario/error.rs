//! Scenario errors: one lowercase line that says what and where
//! (`file:line:col: message`), then a snippet of the source with a caret.

use serde_saphyr::Location;

/// A scenario that cannot be loaded or does not validate.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file (or a file it names) cannot be read.
    #[error("{file}: {message}")]
    Read {
        /// File as named.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// A problem at a place in the scenario.
    #[error("{file}:{line}:{col}: {message}")]
    At {
        /// Scenario file as named.
        file: String,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        col: u64,
        /// What is wrong, lowercase.
        message: String,
        /// The source line(s) with a caret under the column.
        snippet: String,
    },
}

impl ScenarioError {
    /// The one-line message followed by the snippet, for terminals.
    pub fn render(&self) -> String {
        match self {
            ScenarioError::At { snippet, .. } if !snippet.is_empty() => {
                format!("{self}\n{snippet}")
            }
            _ => self.to_string(),
        }
    }
}

/// Builds positioned errors for one source text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Locator<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Locator<'_> {
    pub(crate) fn at(&self, loc: &Location, message: impl Into<String>) -> ScenarioError {
        self.at_line_col(loc.line(), loc.column(), message)
    }

    pub(crate) fn at_line_col(
        &self,
        line: u64,
        col: u64,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, col) = (line.max(1), col.max(1));
        ScenarioError::At {
            file: self.file.to_owned(),
            line,
            col,
            message: message.into(),
            snippet: snippet(self.text, line, col),
        }
    }
}

fn snippet(text: &str, line: u64, col: u64) -> String {
    let Some(src) = text.lines().nth((line - 1) as usize) else {
        return String::new();
    };
    let num = line.to_string();
    let pad = " ".repeat(num.len());
    let caret_pad: String = src
        .chars()
        .take((col - 1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("{pad} |\n{num} | {src}\n{pad} | {caret_pad}^")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_then_snippet() {
        let loc = Locator {
            file: "s.yaml",
            text: "a: 1\nb: oops\n",
        };
        let e = loc.at_line_col(2, 4, "bad value");
        assert_eq!(e.to_string(), "s.yaml:2:4: bad value");
        assert_eq!(
            e.render(),
            "s.yaml:2:4: bad value\n  |\n2 | b: oops\n  |    ^"
        );
    }
}
