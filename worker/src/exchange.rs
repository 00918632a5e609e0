//! One request of one virtual user, from a YAML step or a script's
//! `http.*` call, assembled the same way: render the request from the step's
//! templates and the user's variables (its URL parsed once per distinct
//! target, see [`crate::targets`]), send it on the user's session, time
//! it, then judge the response (`expect`) and take values out of it
//! (`extract`). Returns the outcome the recorder needs.

use std::collections::BTreeMap;

use crate::http::{Request, Response};
use crate::targets::UrlCache;
use crate::user::{Shared, UserSession};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use minijinja::Value;
use stampede_common::run::HttpVersion;
use stampede_common::scenario::model::{Body, Expect, Extract, ExtractFrom, RequestStep};
use stampede_common::scenario::template::Templates;
use stampede_script::{HttpBody, HttpCall};
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
    /// Whether it failed before any response came (connect, timeout, reset).
    pub transport: bool,
}

/// Builds, sends and judges one request step.
pub(crate) async fn perform(
    step: &RequestStep,
    shared: &Shared,
    base: &str,
    ctx: &Value,
    user: &mut UserSession,
) -> Outcome {
    let templates = &shared.scenario.templates;
    let req = match build(step, templates, ctx)
        .and_then(|parts| parts.assemble(&shared.urls, base, &user.headers, shared.default_timeout))
    {
        Ok(r) => r,
        Err(e) => return Outcome::unsent(e),
    };
    let (micros, result) = send(user, req).await;
    match result {
        Err(e) => Outcome::failed(micros, e),
        Ok(resp) => {
            let judged = judge(&step.expect, templates, ctx, &resp).err();
            // A step that goes on after a failure still takes its values
            // (the status code, say) for the steps after it to look at.
            let extracted = if judged.is_none() || step.continue_on_failure {
                extract(&step.extract, &resp, &mut user.vars).err()
            } else {
                None
            };
            let error = judged.or(extracted);
            Outcome {
                micros,
                content_bytes: resp.content_length,
                error,
                sent: true,
                transport: false,
            }
        }
    }
}

/// Sends a request a script asked for on the user's session, judged by its
/// `status` list (or any status below 400); returns the outcome and what the
/// script gets back.
pub(crate) async fn perform_call(
    call: &HttpCall,
    shared: &Shared,
    base: &str,
    user: &mut UserSession,
) -> (Outcome, stampede_script::Response) {
    let req = match call_parts(call, user.http_version)
        .and_then(|parts| parts.assemble(&shared.urls, base, &user.headers, shared.default_timeout))
    {
        Ok(r) => r,
        Err(e) => {
            let back = stampede_script::Response {
                error: Some(e.clone()),
                ..Default::default()
            };
            return (Outcome::unsent(e), back);
        }
    };
    let (micros, result) = send(user, req).await;
    let elapsed = std::time::Duration::from_micros(micros);
    match result {
        Err(e) => {
            let out = Outcome::failed(micros, e);
            let back = stampede_script::Response {
                error: out.error.clone(),
                elapsed,
                ..Default::default()
            };
            (out, back)
        }
        Ok(resp) => {
            let error = status_error(&call.status, &resp);
            let back = stampede_script::Response {
                status: resp.status.as_u16(),
                error: error.clone(),
                headers: resp.headers,
                body: resp.body,
                elapsed,
            };
            let out = Outcome {
                micros,
                content_bytes: resp.content_length,
                error,
                sent: true,
                transport: false,
            };
            (out, back)
        }
    }
}

impl Outcome {
    fn unsent(error: String) -> Self {
        Outcome {
            micros: 0,
            content_bytes: 0,
            error: Some(error),
            sent: false,
            transport: false,
        }
    }

    fn failed(micros: u64, e: crate::http::HttpError) -> Self {
        Outcome {
            micros,
            content_bytes: 0,
            error: Some(e.to_string()),
            sent: true,
            transport: true,
        }
    }
}

/// Sends on the user's session and times it.
async fn send(
    user: &mut UserSession,
    req: Request,
) -> (u64, Result<Response, crate::http::HttpError>) {
    let start = Instant::now();
    let result = user.session.send(req).await;
    (start.elapsed().as_micros() as u64, result)
}

/// A request with its templates rendered (or a script's call read): what
/// both kinds of user send, assembled the same way.
struct Parts<'a> {
    method: Method,
    target: std::borrow::Cow<'a, str>,
    query: Vec<(std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    content_type: Option<&'static str>,
    timeout: Option<std::time::Duration>,
    follow_redirects: bool,
    version: Option<HttpVersion>,
}

impl Parts<'_> {
    fn assemble(
        self,
        urls: &UrlCache,
        base: &str,
        session_headers: &HeaderMap,
        default_timeout: std::time::Duration,
    ) -> Result<Request, String> {
        let mut url = urls.resolve(base, &self.target)?;
        if !self.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &self.query {
                pairs.append_pair(k, v);
            }
        }
        let mut headers = session_headers.clone();
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        if let Some(ct) = self.content_type {
            headers
                .entry(CONTENT_TYPE)
                .or_insert(HeaderValue::from_static(ct));
        }
        Ok(Request {
            method: self.method,
            url,
            headers,
            body: self.body,
            timeout: Some(self.timeout.unwrap_or(default_timeout)),
            follow_redirects: self.follow_redirects,
            version: self.version,
        })
    }
}

fn header_value(name: &HeaderName, value: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value).map_err(|_| format!("invalid value for header `{name}`"))
}

fn form(fields: impl Iterator<Item = (String, String)>) -> Bytes {
    let mut enc = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        enc.append_pair(&k, &v);
    }
    Bytes::from(enc.finish())
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

fn build<'a>(step: &'a RequestStep, t: &Templates, ctx: &Value) -> Result<Parts<'a>, String> {
    let r = |tpl| t.render(tpl, ctx).map_err(|e| e.to_string());
    let query = step
        .query
        .iter()
        .map(|(k, v)| Ok((std::borrow::Cow::Borrowed(k.as_str()), r(v)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let headers = step
        .headers
        .iter()
        .map(|(name, v)| Ok((name.clone(), header_value(name, &r(v)?)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let (body, content_type) = match &step.body {
        Body::Empty => (Bytes::new(), None),
        Body::Json(v) => {
            let json = t.render_value(v, ctx).map_err(|e| e.to_string())?;
            let bytes = serde_json::to_vec(&json).map_err(|e| e.to_string())?;
            (Bytes::from(bytes), Some(JSON))
        }
        Body::Form(fields) => {
            let pairs = fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), r(v)?.into_owned())))
                .collect::<Result<Vec<_>, String>>()?;
            (form(pairs.into_iter()), Some(FORM))
        }
        Body::Raw(tpl) => (Bytes::from(r(tpl)?.into_owned()), None),
    };
    Ok(Parts {
        method: step.method.clone(),
        target: r(&step.target)?,
        query,
        headers,
        body,
        content_type,
        timeout: step.timeout,
        follow_redirects: step.follow_redirects,
        version: step.http_version,
    })
}

/// `class_version`: the version of the user's class, when it names one.
fn call_parts(call: &HttpCall, class_version: Option<HttpVersion>) -> Result<Parts<'_>, String> {
    let version = match &call.http_version {
        Some(v) => Some(v.parse::<HttpVersion>()?),
        None => class_version,
    };
    let method = Method::from_bytes(call.method.as_bytes())
        .map_err(|_| format!("invalid http method `{}`", call.method))?;
    let path = call.path.trim();
    if !(path.starts_with('/') || path.starts_with("http://") || path.starts_with("https://")) {
        return Err(format!(
            "request target `{path}` must be a path starting with `/` or a full http:// or https:// url"
        ));
    }
    let headers = call
        .headers
        .iter()
        .map(|(k, v)| {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("invalid header name `{k}`"))?;
            let value = header_value(&name, v)?;
            Ok((name, value))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let (body, content_type) = match &call.body {
        HttpBody::Empty => (Bytes::new(), None),
        HttpBody::Json(v) => (
            Bytes::from(serde_json::to_vec(v).map_err(|e| e.to_string())?),
            Some(JSON),
        ),
        HttpBody::Form(fields) => (form(fields.iter().cloned()), Some(FORM)),
        HttpBody::Raw(b) => (Bytes::from(b.clone()), None),
    };
    Ok(Parts {
        method,
        target: std::borrow::Cow::Borrowed(path),
        query: call
            .query
            .iter()
            .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
            .collect(),
        headers,
        body,
        content_type,
        timeout: call.timeout,
        follow_redirects: call.follow_redirects.unwrap_or(true),
        version,
    })
}

fn status_text(resp: &Response) -> String {
    match resp.status.canonical_reason() {
        Some(r) => format!("{} ({r})", resp.status.as_u16()),
        None => resp.status.as_u16().to_string(),
    }
}

/// The failure of a status outside `expected` (or 400 and above when empty).
fn status_error(expected: &[u16], resp: &Response) -> Option<String> {
    let code = resp.status.as_u16();
    if expected.is_empty() {
        (code >= 400).then(|| format!("unexpected status {}", status_text(resp)))
    } else if !expected.contains(&code) {
        let want: Vec<String> = expected.iter().map(u16::to_string).collect();
        Some(format!(
            "expected status {}, got {}",
            want.join(" or "),
            status_text(resp)
        ))
    } else {
        None
    }
}

fn judge(expect: &Expect, t: &Templates, ctx: &Value, resp: &Response) -> Result<(), String> {
    if let Some(e) = status_error(&expect.status, resp) {
        return Err(e);
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
            ExtractFrom::Status => Some(Value::from(resp.status.as_u16())),
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
                    ExtractFrom::Status => "status".to_owned(),
                    ExtractFrom::Regex { regex, .. } => format!("regex {}", regex.as_str()),
                };
                return Err(format!("extract `{}`: {what} matched nothing", e.var));
            }
        }
    }
    Ok(())
}
