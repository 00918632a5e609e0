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
            message: one_line(message.into()),
            snippet: snippet(self.text, line, col),
        }
    }
}

/// `message` on one line: a line break or other control character that it
/// quotes from the source (a key that spans lines, say) is shown escaped, as
/// `\n` (found by the fuzz target).
fn one_line(message: String) -> String {
    if !message.chars().any(char::is_control) {
        return message;
    }
    message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The most characters of the source line a snippet shows on each side of
/// the column: a minified or generated line stays readable.
const SNIPPET_SIDE: usize = 60;

/// The lines of a source as YAML counts them: a line ends at `\r\n`, `\n`
/// or a lone `\r` (a file saved with old Mac line ends is one line to
/// `str::lines`, and many to the parser that gives the error its place).
pub(crate) fn source_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        match t.find(['\r', '\n']) {
            Some(i) => {
                let skip = if t[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&t[i + skip..]).filter(|r| !r.is_empty());
                Some(&t[..i])
            }
            None => {
                rest = None;
                Some(t)
            }
        }
    })
}

fn snippet(text: &str, line: u64, col: u64) -> String {
    let Some(src) = source_lines(text).nth((line - 1) as usize) else {
        return String::new();
    };
    let num = line.to_string();
    let pad = " ".repeat(num.len());
    let col = (col - 1) as usize;
    let chars: Vec<char> = src.chars().collect();
    let from = col.saturating_sub(SNIPPET_SIDE);
    let to = (col + SNIPPET_SIDE).min(chars.len());
    let head = if from > 0 { "..." } else { "" };
    let tail = if to < chars.len() { "..." } else { "" };
    let shown: String = chars[from.min(to)..to].iter().collect();
    let caret_pad: String = head
        .chars()
        .chain(chars[from.min(to)..col.min(to)].iter().copied())
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("{pad} |\n{num} | {head}{shown}{tail}\n{pad} | {caret_pad}^")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_quoting_a_line_break_stays_on_one_line() {
        let loc = Locator {
            file: "s.yaml",
            text: "a: 1",
        };
        let e = loc.at_line_col(1, 1, "unknown field `a\n\tb`");
        assert_eq!(e.to_string(), "s.yaml:1:1: unknown field `a\\n\\tb`");
    }

    #[test]
    fn lines_end_as_yaml_ends_them() {
        let lines: Vec<&str> = source_lines("a\r\nb\rc\nd").collect();
        assert_eq!(lines, ["a", "b", "c", "d"]);
        assert_eq!(source_lines("a\n").count(), 1);
        let loc = Locator {
            file: "s.yaml",
            text: "x: 1\ry: [\r",
        };
        let rendered = loc.at_line_col(2, 4, "unclosed bracket").render();
        assert!(rendered.contains("2 | y: ["), "{rendered}");
    }

    #[test]
    fn a_long_line_is_shown_around_its_column() {
        let text = format!("x: {}\n", "[".repeat(10_000));
        let loc = Locator {
            file: "s.yaml",
            text: &text,
        };
        let rendered = loc
            .at_line_col(1, 5_000, "recursion limit exceeded")
            .render();
        assert!(rendered.len() < 400, "{rendered}");
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines[2], format!("1 | ...{}...", "[".repeat(120)));
        assert_eq!(lines[3], format!("  | {}^", " ".repeat(63)));
    }

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
