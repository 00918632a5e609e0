//! `with self.client.<method>(..., catch_response=True) as r:` and its
//! `r.success()` / `r.failure(msg)` under conditions on the status, the
//! JSON or the text, as the request's expectations.

use ruff_python_ast::{self as ast, Expr, Stmt};
use serde_json::Value as Json;

use super::body::{Body, client_call};
use super::is_docstring;
use crate::expr::{dotted, literal};
use crate::model::Step;

impl Body<'_, '_> {
    /// `with self.client.get(..., catch_response=True) as r:` and its
    /// `r.success()` / `r.failure(msg)` under conditions, as expectations.
    pub(super) fn with_stmt(&mut self, w: &ast::StmtWith, line: usize, out: &mut Vec<Step>) {
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
            if !self.catch_rule(s, &resp, out) {
                self.stmt(s, out);
            }
        }
    }

    /// One `if cond: r.failure(..)` (or its success/else form) as an
    /// expectation on request `id`; false when it is not one.
    fn catch_rule(&mut self, s: &Stmt, resp: &str, out: &mut Vec<Step>) -> bool {
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
            if !matches!((op, holds), (Eq | In, true) | (NotEq | NotIn, false)) {
                return Err(
                    "a catch_response rule that lists the statuses that fail has no equivalent"
                        .into(),
                );
            }
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
