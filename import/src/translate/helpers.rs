//! Helpers a task calls, brought in where they are called. A function of
//! the module, or a method of the user's class, whose body is one
//! `return <expr>` is substituted into the expression that calls it, its
//! parameters replaced by the call's arguments (`headers=auth(self.token)`).
//! A helper with statements, called as a statement or assigned
//! (`self.token = self.login("u1")`), is inlined by the body's walk with
//! [`Call::body`]: the same substitution over its statements, its final
//! `return` as the assignment.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};

use ruff_python_ast::visitor::transformer::{self, Transformer};
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::Ranged;

use super::body::{Body, client_call};
use crate::model::Step;

impl<'a> Body<'_, 'a> {
    /// A helper called as a statement, or assigned to `into`: its body in
    /// place. False when `c` calls no helper.
    pub(super) fn inline(
        &mut self,
        c: &ast::ExprCall,
        stmt: &Stmt,
        into: Option<&Expr>,
        out: &mut Vec<Step>,
    ) -> bool {
        let call = match self.helpers().call(c) {
            None => return false,
            Some(Err(reason)) => {
                self.skip(stmt, reason, out);
                return true;
            }
            Some(Ok(call)) => call,
        };
        if self.inlining.contains(&call.name) {
            self.skip(stmt, "a recursive helper has no equivalent", out);
            return true;
        }
        let mut body = match call.body() {
            Ok(b) => b,
            Err(reason) => {
                self.skip(stmt, reason, out);
                return true;
            }
        };
        let returned = match body.last() {
            Some(Stmt::Return(r)) => r.value.clone(),
            _ => None,
        };
        if returned.is_some() {
            body.pop();
        }
        match (into, returned) {
            (Some(target), Some(value)) => body.push(Stmt::Assign(ast::StmtAssign {
                node_index: Default::default(),
                range: stmt.range(),
                targets: vec![target.clone()],
                value,
            })),
            (Some(_), None) => {
                self.skip(stmt, "the helper returns nothing at its end", out);
                return true;
            }
            // A value nobody keeps: only a request in it matters.
            (None, Some(value)) if client_call(&value).is_some() => {
                body.push(Stmt::Expr(ast::StmtExpr {
                    node_index: Default::default(),
                    range: stmt.range(),
                    value,
                }))
            }
            (None, _) => {}
        }
        if call.module_level {
            self.t.used_functions.insert(call.name.clone());
        }
        let (line, from) = (self.t.line_of(stmt), self.t.line_of(call.def));
        out.push(Step::Comment(format!(
            "line {line}: {}(), inlined from line {from}",
            if call.module_level {
                call.name.clone()
            } else {
                format!("self.{}", call.name)
            }
        )));
        self.inlining.push(call.name);
        let steps = self.stmts(&body);
        out.extend(steps);
        self.inlining.pop();
        true
    }
}

/// How deep helpers may call helpers before the call is left as it is.
const MAX_DEPTH: u32 = 16;

/// A call of a helper, its parameters bound to the caller's expressions.
pub(super) struct Call<'a> {
    pub(super) name: String,
    pub(super) def: &'a ast::StmtFunctionDef,
    /// A module-level function (not a method).
    pub(super) module_level: bool,
    args: HashMap<String, Expr>,
}

/// The functions calls may name: the class's methods and the module's.
pub(super) struct Helpers<'h, 'a> {
    pub(super) methods: &'h HashMap<String, &'a ast::StmtFunctionDef>,
    pub(super) functions: &'h HashMap<String, &'a ast::StmtFunctionDef>,
}

impl<'a> Helpers<'_, 'a> {
    /// The helper `c` calls, with its arguments bound; `None` when `c`
    /// calls no helper, `Err` when it does in a way we cannot bind.
    pub(super) fn call(&self, c: &ast::ExprCall) -> Option<Result<Call<'a>, String>> {
        let (name, def, module_level) = match &*c.func {
            Expr::Attribute(a) if matches!(&*a.value, Expr::Name(n) if n.id.as_str() == "self") => {
                let name = a.attr.id.as_str();
                (name, *self.methods.get(name)?, false)
            }
            Expr::Name(n) => (n.id.as_str(), *self.functions.get(n.id.as_str())?, true),
            _ => return None,
        };
        Some(bind(def, c, !module_level).map(|args| Call {
            name: name.to_owned(),
            def,
            module_level,
            args,
        }))
    }

    /// Substitutes every call of a one-`return` helper in `body`; the
    /// module-level functions substituted.
    pub(super) fn expand(&self, body: &mut [Stmt]) -> BTreeSet<String> {
        let e = Expand {
            helpers: self,
            depth: Cell::new(0),
            used: RefCell::new(BTreeSet::new()),
        };
        e.visit_body(body);
        e.used.into_inner()
    }
}

impl Call<'_> {
    /// The helper's statements with the arguments in place of its
    /// parameters, or why it cannot be inlined.
    pub(super) fn body(&self) -> Result<Vec<Stmt>, String> {
        for (param, arg) in &self.args {
            if assigns(&self.def.body, param) {
                return Err(format!(
                    "a helper that assigns to its parameter `{param}` is not inlined"
                ));
            }
            if sends(arg) {
                return Err("a request as a helper's argument is not inlined".into());
            }
        }
        let mut body = self.def.body.clone();
        Substitute(&self.args).visit_body(&mut body);
        Ok(body)
    }
}

/// The one expression a helper returns, if its body is just that.
fn pure_return(f: &ast::StmtFunctionDef) -> Option<&Expr> {
    let body: Vec<&Stmt> = f.body.iter().filter(|s| !super::is_docstring(s)).collect();
    match body.as_slice() {
        [Stmt::Return(r)] => r.value.as_deref(),
        _ => None,
    }
}

/// The call's arguments by parameter name, defaults filled in; a method's
/// `self` left out.
fn bind(
    f: &ast::StmtFunctionDef,
    c: &ast::ExprCall,
    method: bool,
) -> Result<HashMap<String, Expr>, String> {
    let p = &f.parameters;
    if p.vararg.is_some() || p.kwarg.is_some() {
        return Err("a helper with *args or **kwargs is not inlined".into());
    }
    let positional: Vec<&ast::ParameterWithDefault> = p
        .posonlyargs
        .iter()
        .chain(&p.args)
        .skip(usize::from(method))
        .collect();
    let mut args = HashMap::new();
    for (i, a) in c.arguments.args.iter().enumerate() {
        if matches!(a, Expr::Starred(_)) {
            return Err("a helper called with *args is not inlined".into());
        }
        let param = positional
            .get(i)
            .ok_or("a helper called with more arguments than it takes")?;
        args.insert(param.parameter.name.to_string(), a.clone());
    }
    let all: Vec<&ast::ParameterWithDefault> =
        positional.iter().copied().chain(&p.kwonlyargs).collect();
    for k in c.arguments.keywords.iter() {
        let name = k
            .arg
            .as_ref()
            .ok_or("a helper called with **kwargs is not inlined")?;
        if !all
            .iter()
            .any(|p| p.parameter.name.as_str() == name.as_str())
        {
            return Err(format!("the helper has no parameter `{name}`"));
        }
        args.insert(name.to_string(), k.value.clone());
    }
    for param in all {
        let name = param.parameter.name.as_str();
        if !args.contains_key(name) {
            let default = param
                .default
                .as_deref()
                .ok_or_else(|| format!("a helper called without its argument `{name}`"))?;
            args.insert(name.to_owned(), default.clone());
        }
    }
    Ok(args)
}

/// Replaces one-`return` helper calls by what they return.
struct Expand<'e, 'h, 'a> {
    helpers: &'e Helpers<'h, 'a>,
    depth: Cell<u32>,
    used: RefCell<BTreeSet<String>>,
}

impl Transformer for Expand<'_, '_, '_> {
    fn visit_expr(&self, expr: &mut Expr) {
        if let Expr::Call(c) = expr
            && self.depth.get() < MAX_DEPTH
            && let Some(Ok(call)) = self.helpers.call(c)
            && let Some(ret) = pure_return(call.def)
        {
            let mut e = ret.clone();
            Substitute(&call.args).visit_expr(&mut e);
            self.depth.set(self.depth.get() + 1);
            self.visit_expr(&mut e);
            self.depth.set(self.depth.get() - 1);
            if call.module_level {
                self.used.borrow_mut().insert(call.name);
            }
            *expr = e;
            return;
        }
        transformer::walk_expr(self, expr);
    }
}

/// Replaces parameter names by the arguments bound to them.
struct Substitute<'s>(&'s HashMap<String, Expr>);

impl Transformer for Substitute<'_> {
    fn visit_expr(&self, expr: &mut Expr) {
        if let Expr::Name(n) = expr
            && let Some(arg) = self.0.get(n.id.as_str())
        {
            *expr = arg.clone();
            return;
        }
        transformer::walk_expr(self, expr);
    }
}

/// Whether `body` assigns to the name `name` anywhere.
fn assigns(body: &[Stmt], name: &str) -> bool {
    use ruff_python_ast::visitor::{self, Visitor};
    struct Find<'n>(&'n str, bool);
    impl<'x> Visitor<'x> for Find<'_> {
        fn visit_expr(&mut self, e: &'x Expr) {
            if let Expr::Name(n) = e
                && n.id.as_str() == self.0
                && n.ctx.is_store()
            {
                self.1 = true;
            }
            visitor::walk_expr(self, e);
        }
    }
    let mut f = Find(name, false);
    f.visit_body(body);
    f.1
}

/// Whether `e` makes a request (`self.client.<method>(..)` anywhere in it).
fn sends(e: &Expr) -> bool {
    use ruff_python_ast::visitor::{self, Visitor};
    struct Find(bool);
    impl<'x> Visitor<'x> for Find {
        fn visit_expr(&mut self, e: &'x Expr) {
            if client_call(e).is_some() {
                self.0 = true;
            }
            visitor::walk_expr(self, e);
        }
    }
    let mut f = Find(false);
    f.visit_expr(e);
    f.0
}
