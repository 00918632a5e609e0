//! The walk of a locustfile: module constants become variables; each
//! `HttpUser`/`FastHttpUser` class a user class (`class`) with its host,
//! weight, fixed count, wait time, `on_start`/`on_stop` and tasks (`@task`
//! methods, `tasks` lists and dicts, `TaskSet` and `SequentialTaskSet`
//! classes, flattened); each method body a list of steps (`body`), with
//! `catch_response` rules as expectations (`catch`). What has no equivalent
//! is noted with its line and kept as a comment.

mod body;
mod catch;
mod class;
mod flatten;
mod helpers;

use std::collections::{BTreeSet, HashMap};

use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::Ranged;

use crate::expr::{dotted, literal};
use crate::model::Scenario;
use crate::{ImportError, Imported, Untranslated};

/// Line starts of the source, for offsets into (line, column).
pub(super) struct Lines<'s> {
    pub(super) source: &'s str,
    pub(super) starts: Vec<usize>,
}

impl<'s> Lines<'s> {
    fn new(source: &'s str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        Self { source, starts }
    }

    pub(super) fn at(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|s| *s <= offset);
        let start = self.starts[line - 1];
        let col = self.source[start..offset.min(self.source.len())]
            .chars()
            .count()
            + 1;
        (line, col)
    }

    pub(super) fn text(&self, line: usize) -> &str {
        let start = self.starts[line - 1];
        let end = self.starts.get(line).map_or(self.source.len(), |e| e - 1);
        self.source[start..end].trim()
    }
}

pub(crate) fn module(file: &str, name: &str, source: &str) -> Result<Imported, ImportError> {
    let lines = Lines::new(source);
    let parsed = ruff_python_parser::parse_module(source).map_err(|e| {
        let (line, col) = lines.at(e.location.start().to_usize());
        let message = e.error.to_string();
        let mut c = message.chars();
        let message = match c.next() {
            Some(f) => f.to_lowercase().chain(c).collect(),
            None => message,
        };
        ImportError::Syntax {
            file: file.to_owned(),
            line,
            col,
            message,
        }
    })?;
    let body = parsed.into_syntax().body;
    let mut t = Translator {
        lines,
        untranslated: Vec::new(),
        scenario: Scenario {
            name: name.to_owned(),
            source_file: file.to_owned(),
            ..Scenario::default()
        },
        classes: HashMap::new(),
        constants: BTreeSet::new(),
        user_known: BTreeSet::new(),
        functions: HashMap::new(),
        used_functions: BTreeSet::new(),
    };
    for stmt in &body {
        match stmt {
            Stmt::ClassDef(c) => {
                t.classes.insert(c.name.as_str().to_owned(), c);
            }
            Stmt::FunctionDef(f) => {
                t.functions.insert(f.name.as_str().to_owned(), f);
            }
            _ => {}
        }
    }
    for stmt in &body {
        t.module_stmt(stmt);
    }
    for stmt in &body {
        if let Stmt::FunctionDef(f) = stmt
            && !is_event_hook(f)
            && !t.used_functions.contains(f.name.as_str())
        {
            let line = t.line_of(stmt);
            t.scenario.notes.push(format!(
                "line {line}: `{}` is defined but no task calls it: dropped",
                f.name
            ));
        }
    }
    if t.scenario.classes.is_empty() {
        return Err(ImportError::NoUsers {
            file: file.to_owned(),
        });
    }
    let hosts: BTreeSet<Option<String>> =
        t.scenario.classes.iter().map(|c| c.host.clone()).collect();
    if hosts.len() == 1
        && let Some(Some(h)) = hosts.into_iter().next()
    {
        t.scenario.host = Some(h);
        for c in &mut t.scenario.classes {
            c.host = None;
        }
    }
    t.untranslated.sort_by_key(|u| (u.line, u.col));
    Ok(Imported {
        yaml: t.scenario.to_yaml(),
        untranslated: t.untranslated,
    })
}

pub(super) struct Translator<'a> {
    pub(super) lines: Lines<'a>,
    pub(super) untranslated: Vec<Untranslated>,
    pub(super) scenario: Scenario,
    pub(super) classes: HashMap<String, &'a ast::StmtClassDef>,
    /// Module-level names that became variables.
    pub(super) constants: BTreeSet<String>,
    /// The `self.x` names of the user class being translated (its task
    /// sets' `self.user.x`).
    pub(super) user_known: BTreeSet<String>,
    /// Module-level functions, which a user's `tasks` may name.
    pub(super) functions: HashMap<String, &'a ast::StmtFunctionDef>,
    /// Those some user's `tasks` named.
    pub(super) used_functions: BTreeSet<String>,
}

pub(super) const USER_BASES: &[&str] = &[
    "HttpUser",
    "FastHttpUser",
    "locust.HttpUser",
    "locust.FastHttpUser",
    "FastHttpUser",
];
pub(super) const SET_BASES: &[&str] = &[
    "TaskSet",
    "SequentialTaskSet",
    "locust.TaskSet",
    "locust.SequentialTaskSet",
];
const KNOWN_IMPORTS: &[&str] = &[
    "locust",
    "locust.contrib.fasthttp",
    "random",
    "uuid",
    "time",
    "json",
    "string",
];

pub(super) fn bases(c: &ast::StmtClassDef) -> Vec<String> {
    c.arguments
        .as_ref()
        .map(|a| a.args.iter().filter_map(dotted).collect())
        .unwrap_or_default()
}

fn is_event_hook(f: &ast::StmtFunctionDef) -> bool {
    f.decorator_list
        .iter()
        .any(|d| dotted(&d.expression).is_some_and(|n| n.contains("events")))
}

pub(super) fn is_docstring(stmt: &Stmt) -> bool {
    matches!(stmt, Stmt::Expr(e) if matches!(&*e.value, Expr::StringLiteral(_)))
}

impl<'a> Translator<'a> {
    pub(super) fn line_of(&self, node: &impl Ranged) -> usize {
        self.lines.at(node.start().to_usize()).0
    }

    /// Notes `node` as untranslated; returns the comment to keep in its place.
    pub(super) fn untranslated(&mut self, node: &impl Ranged, reason: impl Into<String>) -> String {
        let (line, col) = self.lines.at(node.start().to_usize());
        let source = self.lines.text(line).to_owned();
        let reason = reason.into();
        let comment = format!("untranslated (line {line}): {source}  -- {reason}");
        self.untranslated.push(Untranslated {
            line,
            col,
            source,
            reason,
        });
        comment
    }

    fn module_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(i) => {
                for a in &i.names {
                    if !KNOWN_IMPORTS.contains(&a.name.as_str()) {
                        let bound = a.asname.as_ref().unwrap_or(&a.name).as_str();
                        let bound = bound.split('.').next().unwrap_or(bound).to_owned();
                        self.foreign_import(a, &bound, a.name.as_str());
                    }
                }
            }
            Stmt::ImportFrom(i) => {
                let m = i.module.as_ref().map_or("", |m| m.as_str());
                if !KNOWN_IMPORTS.contains(&m) {
                    for a in &i.names {
                        let bound = a.asname.as_ref().unwrap_or(&a.name).as_str().to_owned();
                        self.foreign_import(a, &bound, m);
                    }
                }
            }
            Stmt::Assign(a) => match (a.targets.as_slice(), literal(&a.value)) {
                ([Expr::Name(n)], Some(v)) => {
                    self.constants.insert(n.id.to_string());
                    self.scenario.variables.push((n.id.to_string(), v));
                }
                _ => {
                    let c = self.untranslated(
                        stmt,
                        "only constants (literals) are translated at the module level",
                    );
                    self.scenario.notes.push(c);
                }
            },
            Stmt::ClassDef(c) => {
                let b = bases(c);
                if b.iter().any(|b| USER_BASES.contains(&b.as_str())) {
                    if let Some(class) = self.user_class(c) {
                        self.scenario.classes.push(class);
                    }
                } else if b.iter().any(|b| SET_BASES.contains(&b.as_str())) {
                    // Translated where a user class names it.
                } else {
                    let what = b.first().cloned().unwrap_or_else(|| "object".into());
                    let c = self
                        .untranslated(stmt, format!("a class based on `{what}` has no equivalent"));
                    self.scenario.notes.push(c);
                }
            }
            Stmt::FunctionDef(f) => {
                if is_event_hook(f) {
                    let c = self.untranslated(stmt, "event hooks have no equivalent");
                    self.scenario.notes.push(c);
                }
                // Others are looked at once the users are known.
            }
            s if is_docstring(s) => {}
            other => {
                let c = self.untranslated(other, "this module-level statement has no equivalent");
                self.scenario.notes.push(c);
            }
        }
    }

    /// An import of a module we have no equivalent of: untranslated when
    /// the file uses the name it binds, a note when it is never used.
    fn foreign_import(&mut self, node: &ast::Alias, bound: &str, module: &str) {
        let line = self.line_of(node);
        let used = self
            .lines
            .source
            .lines()
            .enumerate()
            .any(|(i, l)| i + 1 != line && uses_name(l, bound));
        if used {
            let c = self.untranslated(node, format!("the module `{module}` has no equivalent"));
            self.scenario.notes.push(c);
        } else {
            self.scenario.notes.push(format!(
                "line {line}: `{bound}` from `{module}` is imported but never used: dropped"
            ));
        }
    }
}

/// Seconds as a duration: `5s`, or `1500ms` when not whole.
pub(super) fn seconds(s: f64) -> String {
    let ms = (s * 1000.0).round() as u64;
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Whether `line` (code, not a comment) uses the identifier `name`.
fn uses_name(line: &str, name: &str) -> bool {
    let code = line.split('#').next().unwrap_or("");
    code.match_indices(name).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + name.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}
