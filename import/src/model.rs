//! What the importer builds, and its YAML: a scenario of user classes with
//! their steps, each step remembering the source line it came from (written
//! as a comment beside it). Strings are written as JSON strings and values as
//! JSON, both of which YAML reads as they are.

use std::fmt::Write as _;

use serde_json::Value as Json;

#[derive(Debug, Default)]
pub(crate) struct Scenario {
    pub name: String,
    pub source_file: String,
    pub host: Option<String>,
    pub variables: Vec<(String, Json)>,
    pub classes: Vec<Class>,
    /// Every request step, by the index `Step::Request` holds (extractions
    /// are added to a request after it was placed, when a later statement
    /// reads its response).
    pub requests: Vec<Request>,
    /// Comments for what was left out at the module's level.
    pub notes: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Class {
    pub name: String,
    pub line: usize,
    pub weight: Option<u64>,
    pub fixed_count: Option<u64>,
    pub host: Option<String>,
    /// YAML flow text, e.g. `{between: [1s, 5s]}`.
    pub wait: Option<String>,
    pub on_start: Vec<Step>,
    pub on_stop: Vec<Step>,
    pub tasks: Tasks,
}

#[derive(Debug)]
pub(crate) enum Tasks {
    Sequence(Vec<Task>),
    Weighted(Vec<Task>),
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks::Weighted(Vec::new())
    }
}

#[derive(Debug)]
pub(crate) struct Task {
    pub name: String,
    pub line: usize,
    pub weight: u64,
    /// `@tag(...)`.
    pub tags: Vec<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug)]
pub(crate) enum Step {
    Request(usize),
    Set {
        line: usize,
        vars: Vec<(String, Json)>,
    },
    SetHeaders {
        line: usize,
        headers: Vec<(String, String)>,
    },
    Sleep {
        line: usize,
        seconds: String,
    },
    If {
        line: usize,
        condition: String,
        then: Vec<Step>,
        otherwise: Vec<Step>,
    },
    Loop {
        line: usize,
        head: String,
        steps: Vec<Step>,
    },
    /// What could not be translated: kept as a comment.
    Comment(String),
}

#[derive(Debug, Default)]
pub(crate) struct Request {
    pub line: usize,
    pub method: String,
    pub target: String,
    pub name: Option<String>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub json: Option<Json>,
    pub form: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout: Option<String>,
    pub allow_redirects: Option<bool>,
    pub expect_status: Vec<u16>,
    pub expect_json: Vec<(String, Json)>,
    pub body_contains: Option<String>,
    /// `(var, yaml flow of the source)`.
    pub extract: Vec<(String, String)>,
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn map(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}: {}", q(k), q(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

impl Scenario {
    pub(crate) fn to_yaml(&self) -> String {
        let mut y = String::new();
        let _ = writeln!(
            y,
            "# Imported from {} by `stampede import`.",
            self.source_file
        );
        let _ = writeln!(y, "# Comments give the locustfile's line of each step.");
        let _ = writeln!(y, "name: {}", q(&self.name));
        if let Some(h) = &self.host {
            let _ = writeln!(y, "host: {}", q(h));
        }
        y.push_str("defaults:\n  # As in Locust, a failed request is counted and its task goes on.\n  on_failure: continue\n");
        for n in &self.notes {
            let _ = writeln!(y, "# {n}");
        }
        if !self.variables.is_empty() {
            y.push_str("variables:\n");
            for (k, v) in &self.variables {
                let _ = writeln!(y, "  {k}: {v}");
            }
        }
        y.push_str("users:\n");
        for c in &self.classes {
            c.write(&mut y, &self.requests);
        }
        y
    }
}

impl Class {
    fn write(&self, y: &mut String, rq: &[Request]) {
        let _ = writeln!(y, "  - name: {}  # line {}", q(&self.name), self.line);
        if let Some(w) = self.weight {
            let _ = writeln!(y, "    weight: {w}");
        }
        if let Some(f) = self.fixed_count {
            let _ = writeln!(y, "    fixed_count: {f}");
        }
        if let Some(h) = &self.host {
            let _ = writeln!(y, "    host: {}", q(h));
        }
        if let Some(w) = &self.wait {
            let _ = writeln!(y, "    wait: {w}");
        }
        if !self.on_start.is_empty() {
            y.push_str("    on_start:\n");
            write_steps(y, &self.on_start, 6, rq);
        }
        if !self.on_stop.is_empty() {
            y.push_str("    on_stop:\n");
            write_steps(y, &self.on_stop, 6, rq);
        }
        match &self.tasks {
            Tasks::Sequence(tasks) => {
                y.push_str("    sequence:\n");
                for t in tasks {
                    match t.steps.as_slice() {
                        [one @ Step::Request(_)] if t.tags.is_empty() => {
                            write_steps(y, std::slice::from_ref(one), 6, rq)
                        }
                        steps => {
                            // One task of several steps (or with tags) stays
                            // one step of the sequence (the wait follows the
                            // whole task).
                            let _ = writeln!(
                                y,
                                "      - loop: {{times: 1}}  # task {} (line {})",
                                t.name, t.line
                            );
                            if !t.tags.is_empty() {
                                let tags: Vec<String> = t.tags.iter().map(|t| q(t)).collect();
                                let _ = writeln!(y, "        tags: [{}]", tags.join(", "));
                            }
                            y.push_str("        steps:\n");
                            write_steps(y, steps, 10, rq);
                        }
                    }
                }
            }
            Tasks::Weighted(tasks) => {
                y.push_str("    tasks:\n");
                for t in tasks {
                    let _ = writeln!(y, "      - name: {}  # line {}", q(&t.name), t.line);
                    let _ = writeln!(y, "        weight: {}", t.weight);
                    if !t.tags.is_empty() {
                        let tags: Vec<String> = t.tags.iter().map(|t| q(t)).collect();
                        let _ = writeln!(y, "        tags: [{}]", tags.join(", "));
                    }
                    y.push_str("        steps:\n");
                    write_steps(y, &t.steps, 10, rq);
                }
            }
        }
    }
}

fn write_steps(y: &mut String, steps: &[Step], indent: usize, rq: &[Request]) {
    let pad = " ".repeat(indent);
    let mut wrote = false;
    for s in steps {
        match s {
            Step::Comment(c) => {
                let _ = writeln!(y, "{pad}# {c}");
            }
            other => {
                other.write(y, &pad, rq);
                wrote = true;
            }
        }
    }
    if !wrote {
        // A list with nothing translated still needs one step.
        let _ = writeln!(y, "{pad}- sleep: 0s  # nothing above could be translated");
    }
}

impl Step {
    fn write(&self, y: &mut String, pad: &str, rq: &[Request]) {
        match self {
            Step::Request(i) => rq[*i].write(y, pad),
            Step::Set { line, vars } => {
                let items: Vec<String> = vars.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                let _ = writeln!(y, "{pad}- set: {{{}}}  # line {line}", items.join(", "));
            }
            Step::SetHeaders { line, headers } => {
                let _ = writeln!(y, "{pad}- set_headers: {}  # line {line}", map(headers));
            }
            Step::Sleep { line, seconds } => {
                let _ = writeln!(y, "{pad}- sleep: {seconds}  # line {line}");
            }
            Step::If {
                line,
                condition,
                then,
                otherwise,
            } => {
                let _ = writeln!(y, "{pad}- if: {}  # line {line}", q(condition));
                let _ = writeln!(y, "{pad}  then:");
                write_steps(y, then, pad.len() + 4, rq);
                if !otherwise.is_empty() {
                    let _ = writeln!(y, "{pad}  else:");
                    write_steps(y, otherwise, pad.len() + 4, rq);
                }
            }
            Step::Loop { line, head, steps } => {
                let _ = writeln!(y, "{pad}- loop: {head}  # line {line}");
                let _ = writeln!(y, "{pad}  steps:");
                write_steps(y, steps, pad.len() + 4, rq);
            }
            Step::Comment(c) => {
                let _ = writeln!(y, "{pad}# {c}");
            }
        }
    }
}

impl Request {
    fn write(&self, y: &mut String, pad: &str) {
        let _ = writeln!(
            y,
            "{pad}- {}: {}  # line {}",
            self.method,
            q(&self.target),
            self.line
        );
        let p = format!("{pad}  ");
        if let Some(n) = &self.name {
            let _ = writeln!(y, "{p}name: {}", q(n));
        }
        if !self.query.is_empty() {
            let _ = writeln!(y, "{p}query: {}", map(&self.query));
        }
        if !self.headers.is_empty() {
            let _ = writeln!(y, "{p}headers: {}", map(&self.headers));
        }
        if let Some(j) = &self.json {
            let _ = writeln!(y, "{p}json: {j}");
        }
        if !self.form.is_empty() {
            let _ = writeln!(y, "{p}form: {}", map(&self.form));
        }
        if let Some(b) = &self.body {
            let _ = writeln!(y, "{p}body: {}", q(b));
        }
        if let Some(t) = &self.timeout {
            let _ = writeln!(y, "{p}timeout: {t}");
        }
        if let Some(a) = self.allow_redirects {
            let _ = writeln!(y, "{p}allow_redirects: {a}");
        }
        if !self.expect_status.is_empty()
            || !self.expect_json.is_empty()
            || self.body_contains.is_some()
        {
            let mut parts = Vec::new();
            if !self.expect_status.is_empty() {
                let codes: Vec<String> = self.expect_status.iter().map(u16::to_string).collect();
                parts.push(format!("status: [{}]", codes.join(", ")));
            }
            if let Some(b) = &self.body_contains {
                parts.push(format!("body_contains: {}", q(b)));
            }
            if !self.expect_json.is_empty() {
                let items: Vec<String> = self
                    .expect_json
                    .iter()
                    .map(|(k, v)| format!("{}: {v}", q(k)))
                    .collect();
                parts.push(format!("jsonpath: {{{}}}", items.join(", ")));
            }
            let _ = writeln!(y, "{p}expect: {{{}}}", parts.join(", "));
        }
        if !self.extract.is_empty() {
            let _ = writeln!(y, "{p}extract:");
            for (var, from) in &self.extract {
                let _ = writeln!(y, "{p}  {var}: {from}");
            }
        }
    }
}
