//! Values across the border: the table a script's `http.*` call yields
//! becomes an [`HttpCall`]; a response is a userdata whose `body`, `headers`
//! and `json` are made on first use.

use std::time::Duration;

use mlua::{Lua, LuaSerdeExt, Result, Table, Value};

use crate::coroutine::{HttpBody, HttpCall, Response};

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// A scalar as text: strings as they are, numbers without a trailing `.0`.
pub(crate) fn scalar_text(v: &Value) -> Result<String> {
    Ok(match v {
        Value::String(s) => s.to_str()?.to_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Value::Number(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => {
            return Err(err(format!(
                "expected a string or a number, got {}",
                other.type_name()
            )));
        }
    })
}

fn pairs_of(t: Option<Table>, what: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Some(t) = t {
        for kv in t.pairs::<Value, Value>() {
            let (k, v) = kv?;
            let k = scalar_text(&k).map_err(|_| err(format!("{what}: names must be strings")))?;
            let v = scalar_text(&v).map_err(|e| err(format!("{what} `{k}`: {e}")))?;
            out.push((k, v));
        }
    }
    out.sort();
    Ok(out)
}

/// The call a script yielded: `("http", method, path, opts)`.
pub(crate) fn http_call(
    lua: &Lua,
    method: String,
    path: String,
    opts: Option<Table>,
) -> Result<HttpCall> {
    let mut call = HttpCall {
        method,
        path,
        query: Vec::new(),
        headers: Vec::new(),
        body: HttpBody::Empty,
        name: None,
        timeout: None,
        follow_redirects: None,
        http_version: None,
        status: Vec::new(),
    };
    let Some(opts) = opts else {
        return Ok(call);
    };
    for kv in opts.pairs::<String, Value>() {
        let (k, _) = kv?;
        if !matches!(
            k.as_str(),
            "query"
                | "params"
                | "headers"
                | "json"
                | "form"
                | "data"
                | "body"
                | "name"
                | "timeout"
                | "allow_redirects"
                | "http_version"
                | "status"
        ) {
            return Err(err(format!(
                "http.{}: unknown option `{k}` (query, headers, json, form, body, name, timeout, allow_redirects, http_version, status)",
                call.method.to_lowercase()
            )));
        }
    }
    let query = opts.get::<Option<Table>>("query")?.or(opts.get("params")?);
    call.query = pairs_of(query, "query")?;
    call.headers = pairs_of(opts.get("headers")?, "headers")?;
    let json: Value = opts.get("json")?;
    let form: Option<Table> = opts.get::<Option<Table>>("form")?.or(opts.get("data")?);
    let body: Option<mlua::LuaString> = opts.get("body")?;
    call.body = match (json, form, body) {
        (Value::Nil, None, None) => HttpBody::Empty,
        (j, None, None) => HttpBody::Json(lua.from_value(j)?),
        (Value::Nil, Some(f), None) => HttpBody::Form(pairs_of(Some(f), "form")?),
        (Value::Nil, None, Some(b)) => HttpBody::Raw(b.as_bytes().to_vec()),
        _ => return Err(err("a request takes only one of `json`, `form` and `body`")),
    };
    call.name = opts.get("name")?;
    call.timeout = match opts.get::<Option<f64>>("timeout")? {
        Some(t) if t.is_finite() && t > 0.0 => Some(Duration::from_secs_f64(t)),
        Some(_) => return Err(err("timeout must be a number of seconds above zero")),
        None => None,
    };
    call.follow_redirects = opts.get("allow_redirects")?;
    call.http_version = match opts.get::<Value>("http_version")? {
        Value::Nil => None,
        Value::String(s) => Some(s.to_str()?.to_owned()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => {
            return Err(err(format!(
                "http_version must be \"auto\", \"1.1\" or \"2\", got {}",
                other.type_name()
            )));
        }
    };
    call.status = match opts.get::<Value>("status")? {
        Value::Nil => Vec::new(),
        Value::Integer(i) => {
            vec![u16::try_from(i).map_err(|_| err("status must be an http status code"))?]
        }
        Value::Table(t) => t.sequence_values::<u16>().collect::<Result<_>>()?,
        other => {
            return Err(err(format!(
                "status must be a code or a list of codes, got {}",
                other.type_name()
            )));
        }
    };
    Ok(call)
}

impl mlua::UserData for Response {
    /// A response is one userdata whose fields are read on use: the body
    /// becomes a Luau string, the headers a table and the JSON a value only
    /// when the script asks (each of the last two once, then kept).
    fn add_fields<F: mlua::UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("status", |_, r| Ok(r.status));
        fields.add_field_method_get("ok", |_, r| Ok(r.error.is_none()));
        fields.add_field_method_get("error", |_, r| Ok(r.error.clone()));
        fields.add_field_method_get("elapsed", |_, r| Ok(r.elapsed.as_secs_f64() * 1000.0));
        fields.add_field_method_get("body", |lua, r| lua.create_string(&r.body));
        fields.add_field_function_get("headers", |lua, ud| {
            if let Some(t) = ud.named_user_value::<Option<Table>>("headers")? {
                return Ok(t);
            }
            let r = ud.borrow::<Response>()?;
            let t = lua.create_table_with_capacity(0, r.headers.len())?;
            for (k, v) in &r.headers {
                t.raw_set(k.as_str(), lua.create_string(v.as_bytes())?)?;
            }
            drop(r);
            ud.set_named_user_value("headers", t.clone())?;
            Ok(t)
        });
        fields.add_field_function_get("json", |lua, ud| {
            if let Some(v) = ud.named_user_value::<Option<Value>>("json")? {
                return Ok(v);
            }
            let v = {
                let r = ud.borrow::<Response>()?;
                let v: serde_json::Value = serde_json::from_slice(&r.body)
                    .map_err(|e| err(format!("response is not json: {e}")))?;
                to_lua(lua, &v)?
            };
            ud.set_named_user_value("json", v.clone())?;
            Ok(v)
        });
    }
}

/// A value into Luau, JSON's null as nil (so `if r.json.next then` reads
/// as it should); `json.null` is there to send one.
pub(crate) fn to_lua<T: serde::Serialize + ?Sized>(lua: &Lua, v: &T) -> Result<Value> {
    lua.to_value_with(
        v,
        mlua::serde::ser::Options::new()
            .serialize_none_to_null(false)
            .serialize_unit_to_null(false),
    )
}
