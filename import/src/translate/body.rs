//! One method body into steps: requests on `self.client` (with their
//! options), assignments to locals and `self` (responses' values extracted
//! from the request that made them), headers, sleeps, `if`/`elif`/`else`,
//! `for` and `while`, and helpers (methods and module functions) inlined.

use std::collections::{BTreeSet, HashMap};

use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::Ranged;
use serde_json::Value as Json;

use super::class::ClassCtx;
use super::helpers::Helpers;
use super::{Translator, is_docstring, seconds};
use crate::expr::{self, ResponseValue, Scope, dotted, literal};
use crate::model::{Request, Step};

/// One method body being translated.
pub(super) struct Body<'t, 'a> {
    pub(super) t: &'t mut Translator<'a>,
    pub(super) ctx: &'t ClassCtx<'a>,
    pub(super) locals: BTreeSet<String>,
    /// Response variables and the request each came from.
    pub(super) responses: HashMap<String, usize>,
    /// Helper methods being inlined (against recursion).
    pub(super) inlining: Vec<String>,
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
    pub(super) fn new(t: &'t mut Translator<'a>, ctx: &'t ClassCtx<'a>) -> Self {
        Self {
            t,
            ctx,
            locals: BTreeSet::new(),
            responses: HashMap::new(),
            inlining: Vec::new(),
        }
    }

    pub(super) fn stmts(&mut self, body: &[Stmt]) -> Vec<Step> {
        let mut body = body.to_vec();
        let used = self.helpers().expand(&mut body);
        self.t.used_functions.extend(used);
        let mut out = Vec::new();
        for s in &body {
            self.stmt(s, &mut out);
        }
        out
    }

    pub(super) fn helpers(&self) -> Helpers<'_, 'a> {
        Helpers {
            methods: &self.ctx.methods,
            functions: &self.t.functions,
        }
    }

    pub(super) fn skip(
        &mut self,
        node: &impl Ranged,
        reason: impl Into<String>,
        out: &mut Vec<Step>,
    ) {
        let c = self.t.untranslated(node, reason);
        out.push(Step::Comment(c));
    }

    pub(super) fn stmt(&mut self, stmt: &Stmt, out: &mut Vec<Step>) {
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
                if let Expr::Call(c) = &*a.value
                    && self.inline(c, stmt, Some(target), out)
                {
                    return;
                }
                if let (Expr::Name(n), Expr::Name(r)) = (target, &*a.value)
                    && let Some(id) = self.responses.get(r.id.as_str()).copied()
                {
                    self.responses.insert(n.id.to_string(), id);
                    return;
                }
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
                "line {line}: self.interrupt(): the set is left here (and entered again, its on_start first)"
            ))),
            "print" | "logging.info" | "logging.debug" | "logging.warning" | "logger.info" | "logger.debug" => {}
            _ if self.inline(c, stmt, None, out) => {}
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
    pub(super) fn request(
        &mut self,
        c: &ast::ExprCall,
        line: usize,
        out: &mut Vec<Step>,
    ) -> Option<usize> {
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
}

pub(super) fn client_call(e: &Expr) -> Option<&ast::ExprCall> {
    let Expr::Call(c) = e else { return None };
    let Expr::Attribute(a) = &*c.func else {
        return None;
    };
    let is_client = dotted(&a.value).as_deref() == Some("self.client");
    (is_client && (METHODS.contains(&a.attr.id.as_str()) || a.attr.id.as_str() == "request"))
        .then_some(c)
}
