//! Values across the border: the table a script's `http.*` call yields
//! becomes an [`HttpCall`]; a response becomes a table whose `json` field is
//! decoded once, on first use.

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
                | "status"
        ) {
            return Err(err(format!(
                "http.{}: unknown option `{k}` (query, headers, json, form, body, name, timeout, allow_redirects, status)",
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

/// The response table handed back to the script.
pub(crate) fn response(lua: &Lua, meta: &Table, r: Response) -> Result<Table> {
    let t = lua.create_table_with_capacity(0, 7)?;
    t.raw_set("status", r.status)?;
    t.raw_set("ok", r.error.is_none())?;
    if let Some(e) = r.error {
        t.raw_set("error", e)?;
    }
    t.raw_set("body", lua.create_string(&r.body)?)?;
    let headers = lua.create_table_with_capacity(0, r.headers.len())?;
    for (k, v) in r.headers {
        headers.raw_set(k, v)?;
    }
    t.raw_set("headers", headers)?;
    t.raw_set("elapsed", r.elapsed.as_secs_f64() * 1000.0)?;
    t.set_metatable(Some(meta.clone()))?;
    Ok(t)
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

/// The responses' metatable: `r.json` decodes the body once and keeps it.
pub(crate) fn response_meta(lua: &Lua) -> Result<Table> {
    let meta = lua.create_table()?;
    meta.raw_set(
        "__index",
        lua.create_function(|lua, (t, k): (Table, Value)| {
            if !matches!(&k, Value::String(s) if s.as_bytes() == b"json") {
                return Ok(Value::Nil);
            }
            let body: mlua::LuaString = t.raw_get("body")?;
            let v: serde_json::Value = serde_json::from_slice(&body.as_bytes())
                .map_err(|e| err(format!("response is not json: {e}")))?;
            let v = to_lua(lua, &v)?;
            t.raw_set("json", v.clone())?;
            Ok(v)
        })?,
    )?;
    Ok(meta)
}
