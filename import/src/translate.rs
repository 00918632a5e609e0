//! The walk of a locustfile: module constants become variables; each
//! `HttpUser`/`FastHttpUser` class a user class with its host, weight,
//! fixed count, wait time, `on_start`/`on_stop` and tasks (`@task` methods,
//! `tasks` lists and dicts, `TaskSet` and `SequentialTaskSet` classes,
//! flattened); each method body a list of steps (`body`). What has no
//! equivalent is noted with its line and kept as a comment.

use std::collections::{BTreeSet, HashMap};

use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::Ranged;
use serde_json::Value as Json;

use crate::expr::{self, ResponseValue, Scope, dotted, literal};
use crate::model::{Class, Request, Scenario, Step, Task, Tasks};
use crate::{ImportError, Imported, Untranslated};

/// Line starts of the source, for offsets into (line, column).
struct Lines<'s> {
    source: &'s str,
    starts: Vec<usize>,
}

impl<'s> Lines<'s> {
    fn new(source: &'s str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        Self { source, starts }
    }

    fn at(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|s| *s <= offset);
        let start = self.starts[line - 1];
        let col = self.source[start..offset.min(self.source.len())]
            .chars()
            .count()
            + 1;
        (line, col)
    }

    fn text(&self, line: usize) -> &str {
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
    };
    for stmt in &body {
        if let Stmt::ClassDef(c) = stmt {
            t.classes.insert(c.name.as_str().to_owned(), c);
        }
    }
    for stmt in &body {
        t.module_stmt(stmt);
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

struct Translator<'a> {
    lines: Lines<'a>,
    untranslated: Vec<Untranslated>,
    scenario: Scenario,
    classes: HashMap<String, &'a ast::StmtClassDef>,
    /// Module-level names that became variables.
    constants: BTreeSet<String>,
    /// The `self.x` names of the user class being translated (its task
    /// sets' `self.user.x`).
    user_known: BTreeSet<String>,
}

const USER_BASES: &[&str] = &[
    "HttpUser",
    "FastHttpUser",
    "locust.HttpUser",
    "locust.FastHttpUser",
    "FastHttpUser",
];
const SET_BASES: &[&str] = &[
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

fn bases(c: &ast::StmtClassDef) -> Vec<String> {
    c.arguments
        .as_ref()
        .map(|a| a.args.iter().filter_map(dotted).collect())
        .unwrap_or_default()
}

fn is_docstring(stmt: &Stmt) -> bool {
    matches!(stmt, Stmt::Expr(e) if matches!(&*e.value, Expr::StringLiteral(_)))
}

impl<'a> Translator<'a> {
    fn line_of(&self, node: &impl Ranged) -> usize {
        self.lines.at(node.start().to_usize()).0
    }

    /// Notes `node` as untranslated; returns the comment to keep in its place.
    fn untranslated(&mut self, node: &impl Ranged, reason: impl Into<String>) -> String {
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
                let reason = if f
                    .decorator_list
                    .iter()
                    .any(|d| dotted(&d.expression).is_some_and(|n| n.contains("events")))
                {
                    "event hooks have no equivalent"
                } else {
                    "module-level functions are not translated (helpers inside a user class are)"
                };
                let c = self.untranslated(stmt, reason);
                self.scenario.notes.push(c);
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

    fn user_class(&mut self, c: &'a ast::StmtClassDef) -> Option<Class> {
        let mut class = Class {
            name: c.name.as_str().to_owned(),
            line: self.line_of(c),
            ..Class::default()
        };
        let mut ctx = ClassCtx::new(self, &[c]);
        self.user_known = ctx.known.clone();
        let mut task_attr: Option<&Expr> = None;
        for stmt in &c.body {
            match stmt {
                Stmt::Assign(a) if matches!(a.targets.as_slice(), [Expr::Name(_)]) => {
                    let Expr::Name(n) = &a.targets[0] else {
                        unreachable!()
                    };
                    match (n.id.as_str(), literal(&a.value)) {
                        ("abstract", Some(Json::Bool(true))) => return None,
                        ("host", Some(Json::String(h))) => class.host = Some(h),
                        ("weight", Some(Json::Number(w))) if w.as_u64().is_some() => {
                            class.weight = w.as_u64()
                        }
                        ("fixed_count", Some(Json::Number(w))) if w.as_u64().is_some() => {
                            class.fixed_count = w.as_u64()
                        }
                        ("wait_time", _) => match self.wait_time(&a.value) {
                            Ok(w) => class.wait = Some(w),
                            Err(r) => {
                                self.untranslated(stmt, r);
                            }
                        },
                        ("tasks", _) => task_attr = Some(&a.value),
                        (name, Some(v)) => {
                            ctx.known.insert(format!("self.{name}"));
                            self.scenario.variables.push((name.to_owned(), v));
                        }
                        _ => {
                            self.untranslated(
                                stmt,
                                "a class attribute that is not a literal has no equivalent",
                            );
                        }
                    }
                }
                Stmt::FunctionDef(_) | Stmt::ClassDef(_) | Stmt::Pass(_) => {}
                s if is_docstring(s) => {}
                other => {
                    self.untranslated(other, "this class-level statement has no equivalent");
                }
            }
        }
        if c.body
            .iter()
            .any(|s| matches!(s, Stmt::Expr(_)) && !is_docstring(s))
        {
            // Noted above.
        }
        class.on_start = ctx.method_steps(self, "on_start");
        class.on_stop = ctx.method_steps(self, "on_stop");
        let mut tasks = ctx.decorated_tasks(self);
        if let Some(attr) = task_attr {
            match self.task_attr(attr, &mut class) {
                Ok(more) => tasks.extend(more),
                Err(r) => {
                    self.untranslated(attr, r);
                }
            }
        }
        if let Tasks::Weighted(t) = &mut class.tasks {
            t.extend(tasks);
            if t.is_empty() {
                self.untranslated(c, "the user class has no task");
                t.push(Task {
                    name: "none".into(),
                    line: class.line,
                    weight: 1,
                    steps: vec![Step::Comment("no task could be translated".into())],
                });
            }
        }
        Some(class)
    }

    /// `wait_time = between(1, 5)` and Locust's three others.
    fn wait_time(&self, e: &Expr) -> Result<String, String> {
        let Expr::Call(c) = e else {
            return Err("a wait_time that is not a call of between, constant, constant_pacing or constant_throughput".into());
        };
        let name = dotted(&c.func).unwrap_or_default();
        let nums: Vec<f64> = c
            .arguments
            .args
            .iter()
            .map(|a| literal(a).and_then(|v| v.as_f64()))
            .collect::<Option<_>>()
            .ok_or("wait_time arguments must be numbers")?;
        let secs = seconds;
        Ok(
            match (name.rsplit('.').next().unwrap_or(""), nums.as_slice()) {
                ("between", [a, b]) => format!("{{between: [{}, {}]}}", secs(*a), secs(*b)),
                ("constant", [a]) => format!("{{constant: {}}}", secs(*a)),
                ("constant_pacing", [a]) => format!("{{constant_pacing: {}}}", secs(*a)),
                ("constant_throughput", [a]) => format!("{{constant_throughput: {a}}}"),
                _ => return Err(format!("`{name}` as a wait_time has no equivalent")),
            },
        )
    }

    /// `tasks = [A, f]` or `{A: 3, f: 1}`: task functions of the class and
    /// task set classes, whose tasks are flattened into the user's.
    fn task_attr(&mut self, e: &'a Expr, class: &mut Class) -> Result<Vec<Task>, String> {
        let entries: Vec<(&Expr, u64)> = match e {
            Expr::List(l) => l.elts.iter().map(|x| (x, 1)).collect(),
            Expr::Tuple(t) => t.elts.iter().map(|x| (x, 1)).collect(),
            Expr::Dict(d) => d
                .iter()
                .map(|i| {
                    let w = literal(&i.value)
                        .and_then(|v| v.as_u64())
                        .ok_or("task weights must be whole numbers")?;
                    Ok((i.key.as_ref().ok_or("a `**` in tasks")?, w))
                })
                .collect::<Result<_, &str>>()?,
            _ => return Err("`tasks` must be a list or a dict".into()),
        };
        let mut out = Vec::new();
        for (entry, weight) in entries {
            let name = dotted(entry).ok_or("a task that is not a name")?;
            let Some(set) = self.classes.get(&name).copied() else {
                return Err(format!(
                    "`{name}` in tasks is not a TaskSet class of this file (task functions go under @task)"
                ));
            };
            let sequential = bases(set).iter().any(|b| b.ends_with("SequentialTaskSet"));
            let mut ctx = ClassCtx::new(self, &[set]);
            ctx.known.extend(self.user_known.iter().cloned());
            let on_start = ctx.method_steps(self, "on_start");
            class.on_start.extend(on_start);
            let on_stop = ctx.method_steps(self, "on_stop");
            class.on_stop.extend(on_stop);
            let tasks = ctx.decorated_tasks(self);
            if sequential {
                if matches!(&class.tasks, Tasks::Weighted(t) if t.is_empty()) && out.is_empty() {
                    class.tasks = Tasks::Sequence(tasks);
                    continue;
                }
                // A sequence among other tasks: one task running all of it.
                let steps = tasks.into_iter().flat_map(|t| t.steps).collect();
                out.push(Task {
                    name: set.name.as_str().to_owned(),
                    line: self.line_of(set),
                    weight,
                    steps,
                });
            } else {
                out.extend(tasks.into_iter().map(|mut t| {
                    t.weight *= weight;
                    t
                }));
            }
        }
        if let Tasks::Sequence(_) = class.tasks
            && !out.is_empty()
        {
            return Err(
                "a SequentialTaskSet next to other tasks in one user is translated only alone"
                    .into(),
            );
        }
        Ok(out)
    }
}

/// The methods of a class (and the classes it is made of), and the names
/// its bodies may use.
struct ClassCtx<'a> {
    methods: HashMap<String, &'a ast::StmtFunctionDef>,
    order: Vec<&'a ast::StmtFunctionDef>,
    /// `self.x` names assigned anywhere in the class, and module constants.
    known: BTreeSet<String>,
}

impl<'a> ClassCtx<'a> {
    fn new(t: &Translator<'a>, classes: &[&'a ast::StmtClassDef]) -> Self {
        let mut methods = HashMap::new();
        let mut order = Vec::new();
        let mut known: BTreeSet<String> = t.constants.iter().cloned().collect();
        for c in classes {
            for stmt in &c.body {
                if let Stmt::FunctionDef(f) = stmt {
                    methods.insert(f.name.as_str().to_owned(), f);
                    order.push(f);
                    collect_self_assignments(&f.body, &mut known);
                }
            }
        }
        Self {
            methods,
            order,
            known,
        }
    }

    fn method_steps(&mut self, t: &mut Translator<'a>, name: &str) -> Vec<Step> {
        match self.methods.get(name).copied() {
            Some(f) => Body::new(t, self).stmts(&f.body),
            None => Vec::new(),
        }
    }

    /// The `@task` and `@task(n)` methods, in order.
    fn decorated_tasks(&mut self, t: &mut Translator<'a>) -> Vec<Task> {
        let mut out = Vec::new();
        for f in self.order.clone() {
            let mut weight = None;
            for d in &f.decorator_list {
                match &d.expression {
                    e if dotted(e).as_deref() == Some("task") => weight = Some(1),
                    Expr::Call(c) if dotted(&c.func).as_deref() == Some("task") => {
                        weight = Some(
                            c.arguments
                                .args
                                .first()
                                .and_then(literal)
                                .and_then(|v| v.as_u64())
                                .unwrap_or(1),
                        );
                    }
                    Expr::Call(c) if dotted(&c.func).as_deref() == Some("tag") => {
                        t.untranslated(
                            d,
                            "tags (@tag) are not translated yet: the task runs whatever --tags say",
                        );
                    }
                    e => {
                        let name = dotted(e).unwrap_or_default();
                        if name != "task" {
                            t.untranslated(d, format!("the decorator `{name}` has no equivalent"));
                        }
                    }
                }
            }
            if let Some(weight) = weight {
                let line = t.line_of(f);
                let steps = Body::new(t, self).stmts(&f.body);
                out.push(Task {
                    name: f.name.as_str().to_owned(),
                    line,
                    weight,
                    steps,
                });
            }
        }
        out
    }
}

fn collect_self_assignments(body: &[Stmt], out: &mut BTreeSet<String>) {
    for s in body {
        match s {
            Stmt::Assign(a) => {
                for t in &a.targets {
                    if let Expr::Attribute(at) = t
                        && matches!(&*at.value, Expr::Name(n) if n.id.as_str() == "self")
                    {
                        out.insert(format!("self.{}", at.attr.id));
                    }
                }
            }
            Stmt::If(i) => {
                collect_self_assignments(&i.body, out);
                for c in &i.elif_else_clauses {
                    collect_self_assignments(&c.body, out);
                }
            }
            Stmt::With(w) => collect_self_assignments(&w.body, out),
            Stmt::For(f) => collect_self_assignments(&f.body, out),
            Stmt::While(w) => collect_self_assignments(&w.body, out),
            _ => {}
        }
    }
}

/// One method body being translated.
struct Body<'t, 'a> {
    t: &'t mut Translator<'a>,
    ctx: &'t ClassCtx<'a>,
    locals: BTreeSet<String>,
    /// Response variables and the request each came from.
    responses: HashMap<String, usize>,
    /// Helper methods being inlined (against recursion).
    inlining: Vec<String>,
}

impl Scope for Body<'_, '_> {
    fn var(&self, name: &str) -> Option<String> {
        if let Some(attr) = name.strip_prefix("self.") {
            return self.ctx.known.contains(name).then(|| attr.to_owned());
        }
        (self.locals.contains(name) || self.ctx.known.contains(name)).then(|| name.to_owned())
    }

    fn response_value(&mut self, resp: &str, what: ResponseValue) -> Option<String> {
        let id = *self.responses.get(resp)?;
        let (var, from) = match &what {
            ResponseValue::Status => (format!("{resp}_status"), "{status: true}".to_owned()),
            ResponseValue::Header(h) => (
                format!("{resp}_{}", sanitize(h)),
                format!(
                    "{{header: {}, default: null}}",
                    serde_json::to_string(h).unwrap_or_default()
                ),
            ),
            ResponseValue::Json { path, .. } => {
                let name = if path == "$" {
                    "json".to_owned()
                } else {
                    sanitize(path)
                };
                (
                    format!("{resp}_{name}"),
                    format!(
                        "{{jsonpath: {}, default: null}}",
                        serde_json::to_string(path).unwrap_or_default()
                    ),
                )
            }
        };
        let req = &mut self.t.scenario.requests[id];
        if !req.extract.iter().any(|(v, _)| *v == var) {
            req.extract.push((var.clone(), from));
        }
        Some(var)
    }
}

fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    out.trim_matches('_')
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

impl<'t, 'a> Body<'t, 'a> {
    fn new(t: &'t mut Translator<'a>, ctx: &'t ClassCtx<'a>) -> Self {
        Self {
            t,
            ctx,
            locals: BTreeSet::new(),
            responses: HashMap::new(),
            inlining: Vec::new(),
        }
    }

    fn stmts(&mut self, body: &[Stmt]) -> Vec<Step> {
        let mut out = Vec::new();
        for s in body {
            self.stmt(s, &mut out);
        }
        out
    }

    fn skip(&mut self, node: &impl Ranged, reason: impl Into<String>, out: &mut Vec<Step>) {
        let c = self.t.untranslated(node, reason);
        out.push(Step::Comment(c));
    }

    fn stmt(&mut self, stmt: &Stmt, out: &mut Vec<Step>) {
        let line = self.t.line_of(stmt);
        match stmt {
            s if is_docstring(s) => {}
            Stmt::Pass(_) => {}
            Stmt::Return(r) if r.value.is_none() => {}
            Stmt::Expr(e) => self.expr_stmt(&e.value, stmt, out),
            Stmt::Assign(a) => {
                let [target] = a.targets.as_slice() else {
                    return self.skip(stmt, "an assignment to several targets", out);
                };
                if let Some(call) = client_call(&a.value) {
                    let Expr::Name(n) = target else {
                        return self.skip(
                            stmt,
                            "a response kept somewhere other than a local name",
                            out,
                        );
                    };
                    if let Some(id) = self.request(call, line, out) {
                        self.responses.insert(n.id.to_string(), id);
                    }
                    return;
                }
                if let Some(step) = self.header_assign(target, &a.value, line) {
                    return out.push(step);
                }
                let var = match target {
                    Expr::Name(n) => {
                        self.locals.insert(n.id.to_string());
                        n.id.to_string()
                    }
                    Expr::Attribute(at) if matches!(&*at.value, Expr::Name(n) if n.id.as_str() == "self") => {
                        at.attr.id.to_string()
                    }
                    _ => {
                        return self.skip(
                            stmt,
                            "an assignment to something other than a name or self.x",
                            out,
                        );
                    }
                };
                match expr::json_value(&a.value, self) {
                    Ok(v) => out.push(Step::Set {
                        line,
                        vars: vec![(var, v)],
                    }),
                    Err(r) => self.skip(stmt, r, out),
                }
            }
            Stmt::AugAssign(a) => {
                let var = match &*a.target {
                    Expr::Name(n) => n.id.to_string(),
                    Expr::Attribute(at) => at.attr.id.to_string(),
                    _ => return self.skip(stmt, "an augmented assignment to this target", out),
                };
                let bin = Expr::BinOp(ast::ExprBinOp {
                    node_index: Default::default(),
                    range: a.range,
                    left: a.target.clone(),
                    op: a.op,
                    right: a.value.clone(),
                });
                match expr::expression(&bin, self) {
                    Ok(e) => out.push(Step::Set {
                        line,
                        vars: vec![(var, Json::String(format!("{{{{ {e} }}}}")))],
                    }),
                    Err(r) => self.skip(stmt, r, out),
                }
            }
            Stmt::If(i) => self.if_stmt(i, line, out),
            Stmt::For(f) => {
                let Expr::Name(var) = &*f.target else {
                    return self.skip(stmt, "a for loop over something other than one name", out);
                };
                self.locals.insert(var.id.to_string());
                let head = match &*f.iter {
                    Expr::Call(c)
                        if dotted(&c.func).as_deref() == Some("range")
                            && c.arguments.args.len() == 1 =>
                    {
                        match literal(&c.arguments.args[0]).and_then(|v| v.as_u64()) {
                            Some(n) => format!("{{times: {n}}}"),
                            None => {
                                return self.skip(
                                    stmt,
                                    "range() of a value known only at run time",
                                    out,
                                );
                            }
                        }
                    }
                    other => match expr::expression(other, self) {
                        Ok(e) => format!(
                            "{{for_each: {{in: {}, as: {}}}, max: 10000}}",
                            serde_json::to_string(&format!("{{{{ {e} }}}}")).unwrap_or_default(),
                            var.id
                        ),
                        Err(r) => return self.skip(stmt, r, out),
                    },
                };
                let steps = self.stmts(&f.body);
                out.push(Step::Loop { line, head, steps });
            }
            Stmt::While(w) => match expr::expression(&w.test, self) {
                Ok(cond) => {
                    let steps = self.stmts(&w.body);
                    out.push(Step::Loop {
                        line,
                        head: format!(
                            "{{while: {}, max: 10000}}",
                            serde_json::to_string(&cond).unwrap_or_default()
                        ),
                        steps,
                    });
                }
                Err(r) => self.skip(stmt, r, out),
            },
            Stmt::With(w) => self.with_stmt(w, line, out),
            Stmt::Import(_) | Stmt::ImportFrom(_) => {}
            Stmt::Try(_) => self.skip(stmt, "try/except has no equivalent", out),
            Stmt::Raise(_) => self.skip(
                stmt,
                "raise has no equivalent (use catch_response and response.failure)",
                out,
            ),
            _ => self.skip(stmt, "this statement has no equivalent", out),
        }
    }

    fn expr_stmt(&mut self, e: &Expr, stmt: &Stmt, out: &mut Vec<Step>) {
        let line = self.t.line_of(stmt);
        if let Some(call) = client_call(e) {
            self.request(call, line, out);
            return;
        }
        let Expr::Call(c) = e else {
            return self.skip(stmt, "an expression statement that is not a call", out);
        };
        let name = dotted(&c.func).unwrap_or_default();
        match name.as_str() {
            "time.sleep" | "gevent.sleep" | "sleep" => match c.arguments.args.first().and_then(literal).and_then(|v| v.as_f64()) {
                Some(s) => out.push(Step::Sleep { line, seconds: seconds(s) }),
                None => self.skip(stmt, "a sleep of a value known only at run time", out),
            },
            "self.client.headers.update" => match c.arguments.args.first().map(|d| self.header_dict(d)) {
                Some(Ok(headers)) => out.push(Step::SetHeaders { line, headers }),
                Some(Err(r)) => self.skip(stmt, r, out),
                None => self.skip(stmt, "headers.update without a dict", out),
            },
            "self.interrupt" => out.push(Step::Comment(format!(
                "line {line}: self.interrupt(): the task set's tasks are the user's own here, so the task just ends"
            ))),
            "print" | "logging.info" | "logging.debug" | "logging.warning" | "logger.info" | "logger.debug" => {}
            n if n.starts_with("self.") && self.ctx.methods.contains_key(&n[5..]) => {
                let method = &n[5..];
                if self.inlining.iter().any(|m| m == method) {
                    return self.skip(stmt, "a recursive helper has no equivalent", out);
                }
                if !c.arguments.is_empty() {
                    return self.skip(stmt, "a helper method called with arguments is not inlined", out);
                }
                self.inlining.push(method.to_owned());
                let f = self.ctx.methods[method];
                out.push(Step::Comment(format!("line {line}: self.{method}(), inlined from line {}", self.t.line_of(f))));
                for s in &f.body {
                    self.stmt(s, out);
                }
                self.inlining.pop();
            }
            _ => self.skip(stmt, format!("a call of `{name}` has no equivalent"), out),
        }
    }

    /// `self.client.headers["X"] = v`.
    fn header_assign(&mut self, target: &Expr, value: &Expr, line: usize) -> Option<Step> {
        let Expr::Subscript(s) = target else {
            return None;
        };
        if dotted(&s.value).as_deref() != Some("self.client.headers") {
            return None;
        }
        let Some(Json::String(name)) = literal(&s.slice) else {
            return None;
        };
        let v = expr::text(value, self).ok()?;
        Some(Step::SetHeaders {
            line,
            headers: vec![(name, v)],
        })
    }

    fn header_dict(&mut self, d: &Expr) -> Result<Vec<(String, String)>, String> {
        let Expr::Dict(d) = d else {
            return Err("headers that are not a dict literal".into());
        };
        let mut out = Vec::new();
        for item in d.iter() {
            let Some(Json::String(k)) = item.key.as_ref().and_then(literal) else {
                return Err("a header name that is not a string literal".into());
            };
            out.push((k, expr::text(&item.value, self)?));
        }
        Ok(out)
    }

    fn pairs(&mut self, d: &Expr, what: &str) -> Result<Vec<(String, String)>, String> {
        let Expr::Dict(d) = d else {
            return Err(format!("`{what}` that is not a dict literal"));
        };
        let mut out = Vec::new();
        for item in d.iter() {
            let Some(Json::String(k)) = item.key.as_ref().and_then(literal) else {
                return Err(format!("a `{what}` key that is not a string literal"));
            };
            out.push((k, expr::text(&item.value, self)?));
        }
        Ok(out)
    }

    /// A request step from `self.client.<method>(...)`; its index.
    fn request(&mut self, c: &ast::ExprCall, line: usize, out: &mut Vec<Step>) -> Option<usize> {
        match self.request_of(c, line) {
            Ok(r) => {
                self.t.scenario.requests.push(r);
                let id = self.t.scenario.requests.len() - 1;
                out.push(Step::Request(id));
                Some(id)
            }
            Err(reason) => {
                self.skip(c, reason, out);
                None
            }
        }
    }

    fn request_of(&mut self, c: &ast::ExprCall, line: usize) -> Result<Request, String> {
        let Expr::Attribute(a) = &*c.func else {
            unreachable!("client_call checked")
        };
        let mut args = c.arguments.args.iter();
        let method = match a.attr.id.as_str() {
            "request" => {
                let m = args
                    .next()
                    .and_then(literal)
                    .and_then(|v| v.as_str().map(str::to_lowercase));
                m.filter(|m| METHODS.contains(&m.as_str()))
                    .ok_or("a request() whose method is not a literal http method")?
            }
            m => m.to_owned(),
        };
        let url = args
            .next()
            .or_else(|| c.arguments.find_keyword("url").map(|k| &k.value))
            .ok_or("a request without a url")?;
        let mut r = Request {
            line,
            method,
            target: expr::text(url, self)?,
            ..Request::default()
        };
        if !(r.target.starts_with('/')
            || r.target.starts_with("http")
            || r.target.starts_with("{{"))
        {
            r.target = format!("/{}", r.target);
        }
        for k in c.arguments.keywords.iter() {
            let Some(arg) = &k.arg else {
                return Err("`**kwargs` in a request has no equivalent".into());
            };
            let v = &k.value;
            match arg.as_str() {
                "url" => {}
                "name" => r.name = Some(expr::text(v, self)?),
                "params" => r.query = self.pairs(v, "params")?,
                "headers" => r.headers = self.header_dict(v)?,
                "json" => r.json = Some(expr::json_value(v, self)?),
                "data" => match v {
                    Expr::Dict(_) => r.form = self.pairs(v, "data")?,
                    other => r.body = Some(expr::text(other, self)?),
                },
                "timeout" => {
                    let s = literal(v)
                        .and_then(|v| v.as_f64())
                        .ok_or("a timeout that is not a number")?;
                    r.timeout = Some(seconds(s));
                }
                "allow_redirects" => {
                    r.allow_redirects = Some(
                        literal(v)
                            .and_then(|v| v.as_bool())
                            .ok_or("allow_redirects that is not True or False")?,
                    )
                }
                "catch_response" => {}
                other => return Err(format!("the request option `{other}` has no equivalent")),
            }
        }
        Ok(r)
    }

    fn if_stmt(&mut self, i: &ast::StmtIf, line: usize, out: &mut Vec<Step>) {
        match expr::expression(&i.test, self) {
            Ok(condition) => {
                let then = self.stmts(&i.body);
                let otherwise = match i.elif_else_clauses.as_slice() {
                    [] => Vec::new(),
                    [e] if e.test.is_none() => self.stmts(&e.body),
                    [first, rest @ ..] => {
                        // elif: a nested if.
                        let nested = ast::StmtIf {
                            node_index: Default::default(),
                            range: first.range,
                            test: Box::new(first.test.clone().expect("an elif has a test")),
                            body: first.body.clone(),
                            elif_else_clauses: rest.to_vec(),
                        };
                        let mut o = Vec::new();
                        self.if_stmt(&nested, self.t.line_of(first), &mut o);
                        o
                    }
                };
                out.push(Step::If {
                    line,
                    condition,
                    then,
                    otherwise,
                });
            }
            Err(r) => self.skip(i, r, out),
        }
    }

    /// `with self.client.get(..., catch_response=True) as r:` and its
    /// `r.success()` / `r.failure(msg)` under conditions, as expectations.
    fn with_stmt(&mut self, w: &ast::StmtWith, line: usize, out: &mut Vec<Step>) {
        let [item] = w.items.as_slice() else {
            return self.skip(w, "a with of several items has no equivalent", out);
        };
        let Some(call) = client_call(&item.context_expr) else {
            return self.skip(w, "a with that is not a request with catch_response", out);
        };
        let Some(id) = self.request(call, line, out) else {
            return;
        };
        let Some(Expr::Name(resp)) = item.optional_vars.as_deref() else {
            return;
        };
        let resp = resp.id.to_string();
        self.responses.insert(resp.clone(), id);
        for s in &w.body {
            if !self.catch_rule(s, &resp, id, out) {
                self.stmt(s, out);
            }
        }
    }

    /// One `if cond: r.failure(..)` (or its success/else form) as an
    /// expectation on request `id`; false when it is not one.
    fn catch_rule(&mut self, s: &Stmt, resp: &str, id: usize, out: &mut Vec<Step>) -> bool {
        let Stmt::If(i) = s else {
            return is_marker(s, resp, "success");
        };
        let fails = |body: &[Stmt]| body.iter().any(|b| is_marker(b, resp, "failure"));
        let succeeds = |body: &[Stmt]| {
            body.iter()
                .all(|b| is_marker(b, resp, "success") || is_docstring(b))
        };
        let else_body = match i.elif_else_clauses.as_slice() {
            [] => None,
            [e] if e.test.is_none() => Some(e.body.as_slice()),
            _ => return false,
        };
        // `if ok: r.success() else: r.failure()` expects `ok`;
        // `if bad: r.failure()` expects `not bad`.
        let (expect_holds, test) = match else_body {
            Some(e) if succeeds(&i.body) && fails(e) => (true, &*i.test),
            Some(e) if fails(&i.body) && succeeds(e) => (false, &*i.test),
            None if fails(&i.body) => (false, &*i.test),
            _ => return false,
        };
        match self.expectation(test, resp, expect_holds) {
            Ok(()) => {
                let msg = i
                    .body
                    .iter()
                    .chain(else_body.unwrap_or(&[]))
                    .find_map(|b| failure_message(b, resp));
                if let Some(m) = msg {
                    out.push(Step::Comment(format!(
                        "line {}: response.failure({m:?}) becomes the expectation above (its message is stampede's)",
                        self.t.line_of(i)
                    )));
                }
                let _ = id;
                true
            }
            Err(r) => {
                self.skip(i, r, out);
                true
            }
        }
    }

    /// Adds to the request bound to `resp` the expectation that `test` is
    /// `holds`: status codes, a JSON value, text in the body.
    fn expectation(&mut self, test: &Expr, resp: &str, holds: bool) -> Result<(), String> {
        let id = self.responses[resp];
        let Expr::Compare(c) = test else {
            return Err("a catch_response condition other than a comparison".into());
        };
        let ([op], [right]) = (&*c.ops, &*c.comparators) else {
            return Err("a chained comparison in a catch_response condition".into());
        };
        use ast::CmpOp::*;
        let is_status = matches!(&*c.left, Expr::Attribute(a) if a.attr.id.as_str() == "status_code" && matches!(&*a.value, Expr::Name(n) if n.id.as_str() == resp));
        if is_status {
            let codes: Vec<u16> = match literal(right) {
                Some(Json::Number(n)) => vec![
                    n.as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or("a status that is not a code")?,
                ],
                Some(Json::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_u64().and_then(|n| u16::try_from(n).ok()))
                    .collect(),
                _ => return Err("status codes that are not literals".into()),
            };
            let positive =
                match (op, holds) {
                    (Eq | In, true) | (NotEq | NotIn, false) => true,
                    _ => return Err(
                        "a catch_response rule that lists the statuses that fail has no equivalent"
                            .into(),
                    ),
                };
            let _ = positive;
            self.t.scenario.requests[id].expect_status = codes;
            return Ok(());
        }
        // "text" in r.text
        if let (Some(Json::String(needle)), Expr::Attribute(a)) = (literal(&c.left), right)
            && a.attr.id.as_str() == "text"
            && matches!(op, In | NotIn)
        {
            if matches!((op, holds), (In, true) | (NotIn, false)) {
                self.t.scenario.requests[id].body_contains = Some(needle);
                return Ok(());
            }
            return Err("a rule that fails when the body contains a text has no equivalent".into());
        }
        // r.json()["a"] == value
        if matches!((op, holds), (Eq, true) | (NotEq, false))
            && let Some(path) = json_path_of(&c.left, resp)
        {
            let v =
                literal(right).ok_or("a JSON expectation against a value that is not a literal")?;
            self.t.scenario.requests[id].expect_json.push((path, v));
            return Ok(());
        }
        Err("this catch_response condition has no equivalent".into())
    }
}

/// Seconds as a duration: `5s`, or `1500ms` when not whole.
fn seconds(s: f64) -> String {
    let ms = (s * 1000.0).round() as u64;
    if ms % 1000 == 0 {
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

fn client_call(e: &Expr) -> Option<&ast::ExprCall> {
    let Expr::Call(c) = e else { return None };
    let Expr::Attribute(a) = &*c.func else {
        return None;
    };
    let is_client = dotted(&a.value).as_deref() == Some("self.client");
    (is_client && (METHODS.contains(&a.attr.id.as_str()) || a.attr.id.as_str() == "request"))
        .then_some(c)
}

fn is_marker(s: &Stmt, resp: &str, which: &str) -> bool {
    matches!(s, Stmt::Expr(e) if matches!(&*e.value, Expr::Call(c) if dotted(&c.func).as_deref() == Some(&format!("{resp}.{which}"))))
}

fn failure_message(s: &Stmt, resp: &str) -> Option<String> {
    let Stmt::Expr(e) = s else { return None };
    let Expr::Call(c) = &*e.value else {
        return None;
    };
    if dotted(&c.func)? != format!("{resp}.failure") {
        return None;
    }
    match c.arguments.args.first().and_then(literal) {
        Some(Json::String(m)) => Some(m),
        _ => Some(String::new()),
    }
}

/// `r.json()["a"]["b"]` as `$.a.b`.
fn json_path_of(e: &Expr, resp: &str) -> Option<String> {
    let mut keys = Vec::new();
    let mut cur = e;
    loop {
        match cur {
            Expr::Subscript(s) => {
                keys.push(match literal(&s.slice)? {
                    Json::String(k) => format!(".{k}"),
                    Json::Number(n) => format!("[{n}]"),
                    _ => return None,
                });
                cur = &s.value;
            }
            Expr::Call(c) if c.arguments.is_empty() => {
                let Expr::Attribute(a) = &*c.func else {
                    return None;
                };
                if a.attr.id.as_str() != "json"
                    || !matches!(&*a.value, Expr::Name(n) if n.id.as_str() == resp)
                {
                    return None;
                }
                keys.reverse();
                return Some(format!("${}", keys.concat()));
            }
            _ => return None,
        }
    }
}
