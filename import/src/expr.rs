//! Python expressions into template expressions: names and `self.x` into
//! variables, literals, arithmetic, comparisons, f-strings, `%` and
//! `.format` into template text, and the calls a locustfile makes for data
//! (`random.randint`, `random.choice`, `random.random`, `uuid.uuid4`,
//! `time.time`, `str`, `int`, `len`) into our template functions. Values
//! from a response (`r.json()["a"]`, `r.headers["X"]`, `r.status_code`)
//! become variables extracted from the request that made `r`.

use ruff_python_ast::{self as ast, Expr, Number, Operator};
use serde_json::Value as Json;

/// Why an expression cannot be translated.
pub(crate) type Reason = String;

/// What expressions may refer to.
pub(crate) trait Scope {
    /// The variable a local or `self` attribute name maps to, if known.
    fn var(&self, name: &str) -> Option<String>;
    /// The variable holding `path` of the response bound to `resp`
    /// (extracting it on the request that made it), if `resp` is one.
    fn response_value(&mut self, resp: &str, what: ResponseValue) -> Option<String>;
}

/// A value read from a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResponseValue {
    /// `r.json()[..]` or `.get(..)`: a JSONPath, and whether a missing value is None.
    Json { path: String, or_none: bool },
    /// `r.headers["X"]`.
    Header(String),
    /// `r.status_code`.
    Status,
}

/// The dotted name of an expression (`self.client.get`, `random.randint`).
pub(crate) fn dotted(e: &Expr) -> Option<String> {
    match e {
        Expr::Name(n) => Some(n.id.to_string()),
        Expr::Attribute(a) => Some(format!("{}.{}", dotted(&a.value)?, a.attr.id)),
        _ => None,
    }
}

/// A literal as JSON, if the expression is one (strings, numbers, booleans,
/// None, and lists and dicts of literals).
pub(crate) fn literal(e: &Expr) -> Option<Json> {
    Some(match e {
        Expr::StringLiteral(s) => Json::String(s.value.to_str().to_owned()),
        Expr::NumberLiteral(n) => match &n.value {
            Number::Int(i) => Json::from(i.as_i64()?),
            Number::Float(f) => serde_json::Number::from_f64(*f).map(Json::Number)?,
            Number::Complex { .. } => return None,
        },
        Expr::BooleanLiteral(b) => Json::Bool(b.value),
        Expr::NoneLiteral(_) => Json::Null,
        Expr::UnaryOp(u) if matches!(u.op, ast::UnaryOp::USub) => match literal(&u.operand)? {
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Json::from(-i)
                } else {
                    serde_json::Number::from_f64(-n.as_f64()?).map(Json::Number)?
                }
            }
            _ => return None,
        },
        Expr::List(l) => Json::Array(l.elts.iter().map(literal).collect::<Option<_>>()?),
        Expr::Tuple(t) => Json::Array(t.elts.iter().map(literal).collect::<Option<_>>()?),
        Expr::Dict(d) => {
            let mut m = serde_json::Map::new();
            for item in d.iter() {
                let Some(Json::String(k)) = item.key.as_ref().and_then(literal) else {
                    return None;
                };
                m.insert(k, literal(&item.value)?);
            }
            Json::Object(m)
        }
        _ => return None,
    })
}

fn jinja_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A template expression (what goes between `{{ }}`).
pub(crate) fn expression(e: &Expr, scope: &mut dyn Scope) -> Result<String, Reason> {
    if let Some(v) = literal(e) {
        return Ok(match v {
            Json::Null => "none".into(),
            Json::Bool(b) => b.to_string(),
            other => other.to_string(),
        });
    }
    match e {
        Expr::Name(n) => scope
            .var(&n.id)
            .ok_or_else(|| format!("`{}` is not a variable the scenario knows", n.id)),
        Expr::Attribute(a) => {
            // A task set's `self.user.x` is its user's `self.x`.
            if dotted(&a.value).as_deref() == Some("self.user") {
                return scope
                    .var(&format!("self.{}", a.attr.id))
                    .ok_or_else(|| format!("`self.user.{}` is never set", a.attr.id));
            }
            if let Expr::Name(base) = &*a.value {
                if base.id.as_str() == "self" {
                    return scope
                        .var(&format!("self.{}", a.attr.id))
                        .ok_or_else(|| format!("`self.{}` is never set", a.attr.id));
                }
                if a.attr.id.as_str() == "status_code"
                    && let Some(v) = scope.response_value(&base.id, ResponseValue::Status)
                {
                    return Ok(v);
                }
            }
            Err(format!(
                "`{}` has no equivalent",
                dotted(e).unwrap_or_else(|| "this attribute".into())
            ))
        }
        Expr::BinOp(b) => {
            if matches!(b.op, Operator::Mod)
                && let Expr::StringLiteral(s) = &*b.left
            {
                return Ok(format!("({})", percent(s.value.to_str(), &b.right, scope)?));
            }
            let op = match b.op {
                Operator::Add if is_text(&b.left) || is_text(&b.right) => "~",
                Operator::Add => "+",
                Operator::Sub => "-",
                Operator::Mult => "*",
                Operator::Div => "/",
                Operator::FloorDiv => "//",
                Operator::Mod => "%",
                Operator::Pow => "**",
                _ => return Err("this operator has no template equivalent".into()),
            };
            Ok(format!(
                "({} {op} {})",
                expression(&b.left, scope)?,
                expression(&b.right, scope)?
            ))
        }
        Expr::Compare(c) => {
            let mut out = expression(&c.left, scope)?;
            for (op, right) in c.ops.iter().zip(c.comparators.iter()) {
                let op = match op {
                    ast::CmpOp::Eq => "==",
                    ast::CmpOp::NotEq => "!=",
                    ast::CmpOp::Lt => "<",
                    ast::CmpOp::LtE => "<=",
                    ast::CmpOp::Gt => ">",
                    ast::CmpOp::GtE => ">=",
                    ast::CmpOp::In => "in",
                    ast::CmpOp::NotIn => "not in",
                    ast::CmpOp::Is => "==",
                    ast::CmpOp::IsNot => "!=",
                };
                out = format!("{out} {op} {}", expression(right, scope)?);
            }
            Ok(format!("({out})"))
        }
        Expr::BoolOp(b) => {
            let op = match b.op {
                ast::BoolOp::And => " and ",
                ast::BoolOp::Or => " or ",
            };
            let parts = b
                .values
                .iter()
                .map(|v| expression(v, scope))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("({})", parts.join(op)))
        }
        Expr::UnaryOp(u) => {
            let inner = expression(&u.operand, scope)?;
            Ok(match u.op {
                ast::UnaryOp::Not => format!("(not {inner})"),
                ast::UnaryOp::USub => format!("(-{inner})"),
                ast::UnaryOp::UAdd => inner,
                ast::UnaryOp::Invert => return Err("`~` has no template equivalent".into()),
            })
        }
        Expr::FString(f) => Ok(format!("({})", text_as_expression(&fstring(f, scope)?))),
        Expr::Call(c) => call(c, scope),
        Expr::Subscript(s) => {
            if let Some(v) = response_json(e, scope) {
                return Ok(v);
            }
            if let Some((resp, header)) = response_header(e) {
                return scope
                    .response_value(&resp, ResponseValue::Header(header))
                    .ok_or_else(|| "a header of something that is not a response".into());
            }
            Ok(format!(
                "{}[{}]",
                expression(&s.value, scope)?,
                expression(&s.slice, scope)?
            ))
        }
        Expr::List(l) => Ok(format!(
            "[{}]",
            l.elts
                .iter()
                .map(|v| expression(v, scope))
                .collect::<Result<Vec<_>, _>>()?
                .join(", ")
        )),
        Expr::If(i) => Ok(format!(
            "({} if {} else {})",
            expression(&i.body, scope)?,
            expression(&i.test, scope)?,
            expression(&i.orelse, scope)?
        )),
        _ => Err("this kind of expression has no template equivalent".into()),
    }
}

/// Whether an expression is surely text (so that `+` means `~`).
fn is_text(e: &Expr) -> bool {
    matches!(e, Expr::StringLiteral(_) | Expr::FString(_))
        || matches!(e, Expr::Call(c) if dotted(&c.func).as_deref() == Some("str"))
}

/// Template text (with `{{ }}`) as one expression.
fn text_as_expression(text: &str) -> String {
    // Split back into literal and expression parts.
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{ ") {
        if i > 0 {
            parts.push(jinja_string(&rest[..i]));
        }
        let after = &rest[i + 3..];
        let j = after.find(" }}").unwrap_or(after.len());
        parts.push(format!("({})", &after[..j]));
        rest = after.get(j + 3..).unwrap_or("");
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(jinja_string(rest));
    }
    parts.join(" ~ ")
}

fn call(c: &ast::ExprCall, scope: &mut dyn Scope) -> Result<String, Reason> {
    let name = dotted(&c.func).unwrap_or_default();
    let args = |scope: &mut dyn Scope| -> Result<Vec<String>, Reason> {
        c.arguments
            .args
            .iter()
            .map(|a| expression(a, scope))
            .collect()
    };
    if !c.arguments.keywords.is_empty() && name != "dict" {
        return Err(format!(
            "`{name}(...)` with keyword arguments has no equivalent"
        ));
    }
    Ok(match name.as_str() {
        "random.randint" => format!("random_int({})", args(scope)?.join(", ")),
        "random.uniform" => format!("random_float({})", args(scope)?.join(", ")),
        "random.random" => "random_float(0, 1)".into(),
        "random.choice" => format!("random_choice({})", args(scope)?.join(", ")),
        "uuid.uuid4" | "uuid4" => "uuid()".into(),
        "time.time" => "timestamp()".into(),
        "str" => match c.arguments.args.first() {
            Some(Expr::Call(inner))
                if matches!(dotted(&inner.func).as_deref(), Some("uuid.uuid4" | "uuid4")) =>
            {
                "uuid()".into()
            }
            Some(a) => format!("({} | string)", expression(a, scope)?),
            None => "\"\"".into(),
        },
        "int" => format!("({} | int)", args(scope)?.join(", ")),
        "float" => format!("({} | float)", args(scope)?.join(", ")),
        "len" => format!("({} | length)", args(scope)?.join(", ")),
        _ => {
            if let Some(v) = response_json(&Expr::Call(c.clone()), scope) {
                return Ok(v);
            }
            if let Expr::Attribute(a) = &*c.func
                && a.attr.id.as_str() == "format"
                && let Expr::StringLiteral(s) = &*a.value
            {
                return Ok(text_as_expression(&format_method(
                    s.value.to_str(),
                    c,
                    scope,
                )?));
            }
            return Err(format!("`{name}(...)` has no equivalent"));
        }
    })
}

/// `r.json()["a"][0]`, `r.json().get("a")`, `r.json()`: the variable
/// extracted for it.
fn response_json(e: &Expr, scope: &mut dyn Scope) -> Option<String> {
    let mut path = Vec::new();
    let mut or_none = false;
    let mut cur = e;
    loop {
        match cur {
            Expr::Subscript(s) => {
                path.push(json_key(&s.slice)?);
                cur = &s.value;
            }
            Expr::Call(c) => {
                let Expr::Attribute(a) = &*c.func else {
                    return None;
                };
                match a.attr.id.as_str() {
                    "json" if c.arguments.is_empty() => {
                        let Expr::Name(resp) = &*a.value else {
                            return None;
                        };
                        path.reverse();
                        let path = format!("${}", path.concat());
                        return scope
                            .response_value(&resp.id, ResponseValue::Json { path, or_none });
                    }
                    "get" if c.arguments.args.len() == 1 => {
                        path.push(json_key(&c.arguments.args[0])?);
                        or_none = true;
                        cur = &a.value;
                    }
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
}

fn json_key(e: &Expr) -> Option<String> {
    match literal(e)? {
        Json::String(s) if s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Some(format!(".{s}"))
        }
        Json::String(s) => Some(format!("[{}]", jinja_string(&s).replace('"', "'"))),
        Json::Number(n) => Some(format!("[{n}]")),
        _ => None,
    }
}

fn response_header(e: &Expr) -> Option<(String, String)> {
    let Expr::Subscript(s) = e else { return None };
    let Expr::Attribute(a) = &*s.value else {
        return None;
    };
    let Expr::Name(resp) = &*a.value else {
        return None;
    };
    if a.attr.id.as_str() != "headers" {
        return None;
    }
    match literal(&s.slice)? {
        Json::String(h) => Some((resp.id.to_string(), h)),
        _ => None,
    }
}

/// Text that may hold expressions: template text with `{{ }}`.
pub(crate) fn text(e: &Expr, scope: &mut dyn Scope) -> Result<String, Reason> {
    match e {
        Expr::StringLiteral(s) => Ok(s.value.to_str().to_owned()),
        Expr::FString(f) => fstring(f, scope),
        Expr::BinOp(b) if matches!(b.op, Operator::Mod) => match &*b.left {
            Expr::StringLiteral(s) => percent_text(s.value.to_str(), &b.right, scope),
            _ => Ok(format!("{{{{ {} }}}}", expression(e, scope)?)),
        },
        Expr::Call(c) if matches!(&*c.func, Expr::Attribute(a) if a.attr.id.as_str() == "format" && matches!(&*a.value, Expr::StringLiteral(_))) =>
        {
            let Expr::Attribute(a) = &*c.func else {
                unreachable!()
            };
            let Expr::StringLiteral(s) = &*a.value else {
                unreachable!()
            };
            format_method(s.value.to_str(), c, scope)
        }
        _ => match literal(e) {
            Some(Json::String(s)) => Ok(s),
            Some(other) => Ok(other.to_string()),
            None => Ok(format!("{{{{ {} }}}}", expression(e, scope)?)),
        },
    }
}

/// One value in template text: a literal string or number as itself
/// (as Python formats it), anything else as `{{ expression }}`.
fn piece(e: &Expr, scope: &mut dyn Scope) -> Result<String, Reason> {
    match literal(e) {
        Some(Json::String(s)) if !s.contains("{{") && !s.contains("{%") => Ok(s),
        Some(Json::Number(n)) => Ok(n.to_string()),
        _ => Ok(format!("{{{{ {} }}}}", expression(e, scope)?)),
    }
}

fn fstring(f: &ast::ExprFString, scope: &mut dyn Scope) -> Result<String, Reason> {
    let mut out = String::new();
    for part in f.value.iter() {
        match part {
            ast::FStringPart::Literal(l) => out.push_str(&l.value),
            ast::FStringPart::FString(fs) => {
                for el in fs.elements.iter() {
                    match el {
                        ast::InterpolatedStringElement::Literal(l) => out.push_str(&l.value),
                        ast::InterpolatedStringElement::Interpolation(i) => {
                            if i.format_spec.is_some() {
                                return Err("an f-string format spec has no equivalent".into());
                            }
                            out.push_str(&piece(&i.expression, scope)?);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `"a %s b %d" % (x, y)` as template text.
fn percent_text(fmt: &str, args: &Expr, scope: &mut dyn Scope) -> Result<String, Reason> {
    let values: Vec<&Expr> = match args {
        Expr::Tuple(t) => t.elts.iter().collect(),
        other => vec![other],
    };
    let mut out = String::new();
    let mut it = values.into_iter();
    let mut chars = fmt.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s' | 'd' | 'i' | 'r') => {
                let v = it.next().ok_or("too few values for the % format")?;
                out.push_str(&piece(v, scope)?);
            }
            _ => return Err("this % format has no equivalent".into()),
        }
    }
    Ok(out)
}

fn percent(fmt: &str, args: &Expr, scope: &mut dyn Scope) -> Result<String, Reason> {
    Ok(text_as_expression(&percent_text(fmt, args, scope)?))
}

/// `"a {} b {name}".format(x, name=y)` as template text.
fn format_method(fmt: &str, c: &ast::ExprCall, scope: &mut dyn Scope) -> Result<String, Reason> {
    let mut out = String::new();
    let mut next = 0usize;
    let mut rest = fmt;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let r = &rest[i..];
        if r.starts_with("{{") || r.starts_with("}}") {
            out.push_str(&r[..1]);
            rest = &r[2..];
            continue;
        }
        let end = r.find('}').ok_or("an unclosed `{` in .format")?;
        let field = &r[1..end];
        let value = if field.is_empty() {
            next += 1;
            c.arguments.args.get(next - 1)
        } else if let Ok(n) = field.parse::<usize>() {
            c.arguments.args.get(n)
        } else {
            c.arguments.find_keyword(field).map(|k| &k.value)
        }
        .ok_or("a .format field without its value")?;
        out.push_str(&piece(value, scope)?);
        rest = &r[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A JSON value to send: literals as they are, expressions as `"{{ e }}"`
/// (which keeps their type), dicts and lists walked.
pub(crate) fn json_value(e: &Expr, scope: &mut dyn Scope) -> Result<Json, Reason> {
    if let Some(v) = literal(e) {
        return Ok(v);
    }
    match e {
        Expr::Dict(d) => {
            let mut m = serde_json::Map::new();
            for item in d.iter() {
                let Some(Json::String(k)) = item.key.as_ref().and_then(literal) else {
                    return Err("a dict key that is not a string literal".into());
                };
                m.insert(k, json_value(&item.value, scope)?);
            }
            Ok(Json::Object(m))
        }
        Expr::List(l) => Ok(Json::Array(
            l.elts
                .iter()
                .map(|v| json_value(v, scope))
                .collect::<Result<_, _>>()?,
        )),
        Expr::StringLiteral(_) | Expr::FString(_) => Ok(Json::String(text(e, scope)?)),
        Expr::BinOp(b)
            if matches!(b.op, Operator::Mod) && matches!(&*b.left, Expr::StringLiteral(_)) =>
        {
            Ok(Json::String(text(e, scope)?))
        }
        _ => Ok(Json::String(format!("{{{{ {} }}}}", expression(e, scope)?))),
    }
}
