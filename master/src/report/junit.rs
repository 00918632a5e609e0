//! JUnit XML (`--junit FILE`) for CI systems that show test results: one
//! test case per threshold of a run, or per gate of a comparison, a failed
//! one carrying the actual value and the limit. [`TestCase`]s from either
//! go through [`render`].

use std::fmt::Write as _;

use stampede_common::thresholds::Verdict;

use super::page::Esc;
use crate::compare::GateResult;

/// One test case.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The threshold or gate as written.
    pub name: String,
    /// Held.
    pub passed: bool,
    /// Why it failed (actual value and limit), for a failed one.
    pub message: String,
}

impl From<&Verdict> for TestCase {
    fn from(v: &Verdict) -> Self {
        let message = match v.actual {
            Some(a) => format!("actual {a}{u}, limit {}{u}", v.limit, u = v.unit),
            None => format!("no requests, limit {}{}", v.limit, v.unit),
        };
        Self {
            name: v.threshold.clone(),
            passed: v.passed,
            message,
        }
    }
}

impl From<&GateResult> for TestCase {
    fn from(g: &GateResult) -> Self {
        let noise = if g.beyond_noise {
            "beyond noise"
        } else {
            "within noise"
        };
        Self {
            name: g.gate.clone(),
            passed: g.passed,
            message: format!(
                "base {}, new {}, change {}, limit {} ({noise})",
                g.base, g.new, g.change, g.limit
            ),
        }
    }
}

/// XML-escaped text for content and double-quoted attributes: the HTML
/// report's escaping, after the characters XML 1.0 cannot hold at all.
fn esc(s: &str) -> String {
    let held: String = s
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\t' | '\r') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    Esc(&held).to_string()
}

/// A JUnit document of one suite named `suite` (`thresholds` or `gates`)
/// under `classname` (the scenario's name), taking `seconds`.
pub fn render(suite: &str, classname: &str, seconds: f64, cases: &[TestCase]) -> String {
    let failures = cases.iter().filter(|c| !c.passed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"stampede\" tests=\"{}\" failures=\"{failures}\" time=\"{seconds:.3}\">",
        cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{seconds:.3}\">",
        esc(suite),
        cases.len()
    );
    for c in cases {
        let head = format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            esc(classname),
            esc(&c.name)
        );
        if c.passed {
            let _ = writeln!(out, "{head}/>");
        } else {
            let _ = writeln!(
                out,
                "{head}>\n      <failure message=\"{m}\" type=\"{suite}\">{m}</failure>\n    </testcase>",
                m = esc(&c.message),
                suite = esc(suite)
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_messages_are_escaped() {
        let cases = [TestCase {
            name: "GET /a?b=<c>&d: p95<1s".into(),
            passed: false,
            message: "actual \"2\"\u{1}".into(),
        }];
        let xml = render("thresholds", "s", 1.0, &cases);
        assert!(
            xml.contains("name=\"GET /a?b=&lt;c&gt;&amp;d: p95&lt;1s\""),
            "{xml}"
        );
        assert!(
            xml.contains("message=\"actual &quot;2&quot;\u{fffd}\""),
            "{xml}"
        );
    }
}
