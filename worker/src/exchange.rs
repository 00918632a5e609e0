//! One request step of one virtual user: render the request from the step's
//! templates and the user's variables (its URL parsed once per distinct
//! target, see [`crate::targets`]), send it on the user's session, time
//! it, then judge the response (`expect`) and take values out of it
//! (`extract`). Returns the outcome the recorder needs.

use std::collections::BTreeMap;

use crate::http::{Request, Response};
use crate::targets::UrlCache;
use crate::user::{Shared, UserSession};
use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue};
use minijinja::Value;
use stampede_common::scenario::model::{Body, Expect, Extract, ExtractFrom, RequestStep};
use stampede_common::scenario::template::Templates;
use tokio::time::Instant;

/// What happened to one request.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Response time in microseconds (time to a failure for errors).
    pub micros: u64,
    /// Decoded body size.
    pub content_bytes: u64,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Whether a request was actually sent (false when it could not even be built).
    pub sent: bool,
}

/// Builds, sends and judges one request.
pub(crate) async fn perform(
    step: &RequestStep,
    shared: &Shared,
    base: &str,
    ctx: &Value,
    user: &mut UserSession,
) -> Outcome {
    let templates = &shared.scenario.templates;
    let req = match build(
        step,
        templates,
        &shared.urls,
        ctx,
        base,
        &user.headers,
        shared.default_timeout,
    ) {
        Ok(r) => r,
        Err(e) => {
            return Outcome {
                micros: 0,
                content_bytes: 0,
                error: Some(e),
                sent: false,
            };
        }
    };
    let start = Instant::now();
    let result = user.session.send(req).await;
    let micros = start.elapsed().as_micros() as u64;
    match result {
        Err(e) => Outcome {
            micros,
            content_bytes: 0,
            error: Some(e.to_string()),
            sent: true,
        },
        Ok(resp) => {
            let error = judge(&step.expect, templates, ctx, &resp)
                .err()
                .or_else(|| extract(&step.extract, &resp, &mut user.vars).err());
            Outcome {
                micros,
                content_bytes: resp.content_length,
                error,
                sent: true,
            }
        }
    }
}

fn build(
    step: &RequestStep,
    t: &Templates,
    urls: &UrlCache,
    ctx: &Value,
    base: &str,
    session_headers: &HeaderMap,
    default_timeout: std::time::Duration,
) -> Result<Request, String> {
    let target = t.render(&step.target, ctx).map_err(|e| e.to_string())?;
    let mut url = urls.resolve(base, &target)?;
    if !step.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &step.query {
            pairs.append_pair(k, &t.render(v, ctx).map_err(|e| e.to_string())?);
        }
    }
    let mut headers = session_headers.clone();
    for (name, v) in &step.headers {
        let value = t.render(v, ctx).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| format!("invalid value for header `{name}`"))?;
        headers.insert(name.clone(), value);
    }
    let body = match &step.body {
        Body::Empty => Bytes::new(),
        Body::Json(v) => {
            let json = t.render_value(v, ctx).map_err(|e| e.to_string())?;
            headers
                .entry(CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("application/json"));
            Bytes::from(serde_json::to_vec(&json).map_err(|e| e.to_string())?)
        }
        Body::Form(fields) => {
            let mut enc = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                enc.append_pair(k, &t.render(v, ctx).map_err(|e| e.to_string())?);
            }
            headers
                .entry(CONTENT_TYPE)
                .or_insert(HeaderValue::from_static(
                    "application/x-www-form-urlencoded",
                ));
            Bytes::from(enc.finish())
        }
        Body::Raw(tpl) => Bytes::from(t.render(tpl, ctx).map_err(|e| e.to_string())?.into_owned()),
    };
    Ok(Request {
        method: step.method.clone(),
        url,
        headers,
        body,
        timeout: Some(step.timeout.unwrap_or(default_timeout)),
        follow_redirects: step.follow_redirects,
    })
}

fn status_text(resp: &Response) -> String {
    match resp.status.canonical_reason() {
        Some(r) => format!("{} ({r})", resp.status.as_u16()),
        None => resp.status.as_u16().to_string(),
    }
}

fn judge(expect: &Expect, t: &Templates, ctx: &Value, resp: &Response) -> Result<(), String> {
    let code = resp.status.as_u16();
    if expect.status.is_empty() {
        if code >= 400 {
            return Err(format!("unexpected status {}", status_text(resp)));
        }
    } else if !expect.status.contains(&code) {
        let want: Vec<String> = expect.status.iter().map(u16::to_string).collect();
        return Err(format!(
            "expected status {}, got {}",
            want.join(" or "),
            status_text(resp)
        ));
    }
    if let Some(needle) = &expect.body_contains {
        let needle = t.render(needle, ctx).map_err(|e| e.to_string())?;
        if !contains(&resp.body, needle.as_bytes()) {
            return Err(format!("body does not contain `{needle}`"));
        }
    }
    if !expect.jsonpath.is_empty() {
        let doc = parse_json(resp)?;
        for check in &expect.jsonpath {
            let want = t
                .render_value(&check.equals, ctx)
                .map_err(|e| e.to_string())?;
            let got = check.path.query(&doc).all();
            match got.as_slice() {
                [] => return Err(format!("jsonpath {} matched nothing", check.source)),
                [v] if **v == want || loosely_equal(v, &want) => {}
                [v] => {
                    return Err(format!(
                        "jsonpath {}: expected {want}, got {v}",
                        check.source
                    ));
                }
                many => {
                    return Err(format!(
                        "jsonpath {} matched {} values, expected one",
                        check.source,
                        many.len()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `"5"` equals `5`: YAML authors write numbers as either.
fn loosely_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::String(s), J::Number(n)) | (J::Number(n), J::String(s)) => s == &n.to_string(),
        _ => false,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn parse_json(resp: &Response) -> Result<serde_json::Value, String> {
    serde_json::from_slice(&resp.body).map_err(|e| format!("response is not json: {e}"))
}

fn extract(
    list: &[Extract],
    resp: &Response,
    vars: &mut BTreeMap<String, Value>,
) -> Result<(), String> {
    let mut doc: Option<serde_json::Value> = None;
    for e in list {
        let found: Option<Value> = match &e.from {
            ExtractFrom::JsonPath { path, .. } => {
                if doc.is_none() {
                    doc = Some(parse_json(resp)?);
                }
                let d = doc.as_ref().expect("parsed above");
                path.query(d).first().map(Value::from_serialize)
            }
            ExtractFrom::Header(name) => resp
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| Value::from(s.to_owned())),
            ExtractFrom::Regex { regex, group } => {
                let text = String::from_utf8_lossy(&resp.body);
                regex
                    .captures(&text)
                    .and_then(|c| c.get(*group))
                    .map(|m| Value::from(m.as_str().to_owned()))
            }
        };
        match found.or_else(|| e.default.as_ref().map(Value::from_serialize)) {
            Some(v) => {
                vars.insert(e.var.clone(), v);
            }
            None => {
                let what = match &e.from {
                    ExtractFrom::JsonPath { source, .. } => format!("jsonpath {source}"),
                    ExtractFrom::Header(h) => format!("header {h}"),
                    ExtractFrom::Regex { regex, .. } => format!("regex {}", regex.as_str()),
                };
                return Err(format!("extract `{}`: {what} matched nothing", e.var));
            }
        }
    }
    Ok(())
}
