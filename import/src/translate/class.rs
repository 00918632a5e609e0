//! A user class: its attributes, `on_start`/`on_stop`, and its tasks
//! (`@task` methods, and the `TaskSet`/`SequentialTaskSet` classes of its
//! `tasks`, flattened, a set left with `self.interrupt()` entered again).

use std::collections::{BTreeSet, HashMap};

use ruff_python_ast::{self as ast, Expr, Stmt};
use serde_json::Value as Json;

use super::body::Body;
use super::flatten::{Group, flatten};
use super::{Translator, bases, is_docstring, seconds};
use crate::expr::{dotted, literal};
use crate::model::{Class, Step, Task, Tasks};

impl<'a> Translator<'a> {
    pub(super) fn user_class(&mut self, c: &'a ast::StmtClassDef) -> Option<Class> {
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
        let mut groups = Group::each(ctx.decorated_tasks(self));
        if let Some(attr) = task_attr {
            match self.task_attr(attr, &mut class) {
                Ok(more) => groups.extend(more),
                Err(r) => {
                    self.untranslated(attr, r);
                }
            }
        }
        let tasks = flatten(groups);
        if let Tasks::Weighted(t) = &mut class.tasks {
            t.extend(tasks);
            if t.is_empty() {
                self.untranslated(c, "the user class has no task");
                t.push(Task {
                    name: "none".into(),
                    line: class.line,
                    weight: 1,
                    tags: Vec::new(),
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

    /// A module-level task function (`def browse(user): user.client.get(..)`)
    /// as a task: its parameter is the user, as `self` is in a method.
    fn task_function(&mut self, f: &'a ast::StmtFunctionDef) -> Result<Task, String> {
        let param = f
            .parameters
            .args
            .first()
            .map(|p| p.parameter.name.as_str().to_owned())
            .ok_or("a task function without its user parameter")?;
        self.used_functions.insert(f.name.as_str().to_owned());
        let mut body = f.body.clone();
        ruff_python_ast::visitor::transformer::walk_body(&AsSelf(param), &mut body);
        let mut ctx = ClassCtx::new(self, &[]);
        ctx.known.extend(self.user_known.iter().cloned());
        collect_self_assignments(&body, &mut ctx.known);
        let line = self.line_of(f);
        let steps = Body::new(self, &ctx).stmts(&body);
        Ok(Task {
            name: f.name.as_str().to_owned(),
            line,
            weight: 1,
            tags: Vec::new(),
            steps,
        })
    }

    /// `tasks = [A, f]` or `{A: 3, f: 1}`: task functions of the module and
    /// task set classes, whose tasks are flattened into the user's.
    fn task_attr(&mut self, e: &'a Expr, class: &mut Class) -> Result<Vec<Group>, String> {
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
            if let Some(f) = self.functions.get(&name).copied() {
                out.push(Group {
                    outer: weight,
                    tasks: vec![self.task_function(f)?],
                });
                continue;
            }
            let Some(set) = self.classes.get(&name).copied() else {
                return Err(format!(
                    "`{name}` in tasks is neither a TaskSet class nor a function of this file"
                ));
            };
            let sequential = bases(set).iter().any(|b| b.ends_with("SequentialTaskSet"));
            let mut ctx = ClassCtx::new(self, &[set]);
            ctx.known.extend(self.user_known.iter().cloned());
            let on_start = ctx.method_steps(self, "on_start");
            // A set whose last task calls self.interrupt() is left and
            // entered again each round: its on_start runs every time.
            let interrupts: Vec<bool> = ctx
                .task_methods()
                .iter()
                .map(|f| calls_interrupt(&f.body))
                .collect();
            let restart = sequential && interrupts.last() == Some(&true);
            // In a random set every pick is one task, so an interrupt
            // anywhere just ends it; in a sequence only the last may.
            if sequential
                && interrupts
                    .iter()
                    .rev()
                    .skip(usize::from(restart))
                    .any(|i| *i)
            {
                self.untranslated(
                    set,
                    "self.interrupt() before the last task of a set: the tasks after it run too",
                );
            }
            let (on_start, restart_steps) = if restart {
                (Vec::new(), on_start)
            } else {
                (on_start, Vec::new())
            };
            class.on_start.extend(on_start);
            let on_stop = ctx.method_steps(self, "on_stop");
            class.on_stop.extend(on_stop);
            let mut tasks = ctx.decorated_tasks(self);
            if !restart_steps.is_empty() {
                tasks.insert(
                    0,
                    Task {
                        name: format!("{}.on_start", set.name.as_str()),
                        line: self.line_of(set),
                        weight: 1,
                        tags: Vec::new(),
                        steps: restart_steps,
                    },
                );
            }
            if sequential {
                if matches!(&class.tasks, Tasks::Weighted(t) if t.is_empty()) && out.is_empty() {
                    class.tasks = Tasks::Sequence(tasks);
                    continue;
                }
                // A sequence among other tasks: one task running all of it.
                let steps = tasks.into_iter().flat_map(|t| t.steps).collect();
                out.push(Group {
                    outer: weight,
                    tasks: vec![Task {
                        name: set.name.as_str().to_owned(),
                        line: self.line_of(set),
                        weight: 1,
                        tags: Vec::new(),
                        steps,
                    }],
                });
            } else {
                if !interrupts.iter().all(|i| *i) {
                    let line = self.line_of(set);
                    self.scenario.notes.push(format!(
                        "line {line}: under Locust a user that enters `{}` stays in it until a task calls self.interrupt(); here each of its tasks is one pick among the user's (the same when it is the user's only entry)",
                        set.name
                    ));
                }
                let mut groups = Group::each(tasks);
                // A set's own `tasks` (nested sets), flattened the same way.
                for stmt in &set.body {
                    match stmt {
                        Stmt::Assign(a) if matches!(a.targets.as_slice(), [Expr::Name(n)] if n.id.as_str() == "tasks") => {
                            match self.task_attr(&a.value, class) {
                                Ok(more) => groups.extend(more),
                                Err(r) => {
                                    self.untranslated(stmt, r);
                                }
                            }
                        }
                        Stmt::FunctionDef(_) | Stmt::Pass(_) => {}
                        s if is_docstring(s) => {}
                        other => {
                            self.untranslated(
                                other,
                                "this statement of a task set has no equivalent",
                            );
                        }
                    }
                }
                out.push(Group {
                    outer: weight,
                    tasks: flatten(groups),
                });
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
pub(super) struct ClassCtx<'a> {
    pub(super) methods: HashMap<String, &'a ast::StmtFunctionDef>,
    pub(super) order: Vec<&'a ast::StmtFunctionDef>,
    /// `self.x` names assigned anywhere in the class, and module constants.
    pub(super) known: BTreeSet<String>,
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

    /// The methods that are tasks (`@task`, `@task(n)`), in order.
    fn task_methods(&self) -> Vec<&'a ast::StmtFunctionDef> {
        self.order
            .iter()
            .copied()
            .filter(|f| {
                f.decorator_list
                    .iter()
                    .any(|d| is_task_decorator(&d.expression))
            })
            .collect()
    }

    /// The `@task` and `@task(n)` methods, in order.
    fn decorated_tasks(&mut self, t: &mut Translator<'a>) -> Vec<Task> {
        let mut out = Vec::new();
        for f in self.order.clone() {
            let mut weight = None;
            let mut tags = Vec::new();
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
                        for a in c.arguments.args.iter() {
                            match literal(a) {
                                Some(Json::String(tag)) => tags.push(tag),
                                _ => {
                                    t.untranslated(a, "a tag that is not a string literal");
                                }
                            }
                        }
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
                    tags,
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

/// Renames a task function's user parameter to `self`.
struct AsSelf(String);

impl ruff_python_ast::visitor::transformer::Transformer for AsSelf {
    fn visit_expr(&self, expr: &mut Expr) {
        if let Expr::Name(n) = expr
            && n.id.as_str() == self.0
        {
            n.id = ruff_python_ast::name::Name::new("self");
        }
        ruff_python_ast::visitor::transformer::walk_expr(self, expr);
    }
}

fn is_task_decorator(e: &Expr) -> bool {
    match e {
        Expr::Call(c) => dotted(&c.func).as_deref() == Some("task"),
        other => dotted(other).as_deref() == Some("task"),
    }
}

/// Whether a body calls `self.interrupt()` (at any depth of if/with/for).
fn calls_interrupt(body: &[Stmt]) -> bool {
    body.iter().any(|s| match s {
        Stmt::Expr(e) => matches!(&*e.value, Expr::Call(c) if dotted(&c.func).as_deref() == Some("self.interrupt")),
        Stmt::If(i) => calls_interrupt(&i.body) || i.elif_else_clauses.iter().any(|c| calls_interrupt(&c.body)),
        Stmt::With(w) => calls_interrupt(&w.body),
        Stmt::For(f) => calls_interrupt(&f.body),
        Stmt::While(w) => calls_interrupt(&w.body),
        _ => false,
    })
}
