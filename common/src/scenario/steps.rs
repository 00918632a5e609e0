//! Compiles the steps of a class: requests (target, query, headers, body,
//! timeout, expectations, extractions, retries), `set_headers`, `set` and
//! `sleep`; the control flow steps are compiled in `flow`.

use std::collections::BTreeSet;

use http::{HeaderName, Method};
use regex::Regex;
use serde_json_path::JsonPath;
use serde_saphyr::Location;

use super::compile::{Compiler, is_identifier};
use super::error::ScenarioError;
use super::model::{Body, Expect, Extract, ExtractFrom, JsonCheck, RequestStep, Step};
use super::raw::{RawExpect, RawExtract, RawStep, Sp};

type Result<T> = std::result::Result<T, ScenarioError>;

const ACTIONS: &str = "get, post, put, patch, delete, head, options, set_headers, set, sleep, if, loop, group, script";

impl Compiler<'_> {
    pub(crate) fn steps(
        &mut self,
        raw: &[Sp<RawStep>],
        known: &BTreeSet<String>,
    ) -> Result<Vec<Step>> {
        raw.iter()
            .map(|s| {
                let step = self.step(&s.value, &s.referenced, known)?;
                Ok(match &s.value.tags {
                    t if t.is_empty() => step,
                    tags => Step::Tagged {
                        tags: tags.clone(),
                        step: Box::new(step),
                    },
                })
            })
            .collect()
    }

    fn step(&mut self, raw: &RawStep, at: &Location, known: &BTreeSet<String>) -> Result<Step> {
        let methods = [
            ("get", &raw.get, Method::GET),
            ("post", &raw.post, Method::POST),
            ("put", &raw.put, Method::PUT),
            ("patch", &raw.patch, Method::PATCH),
            ("delete", &raw.delete, Method::DELETE),
            ("head", &raw.head, Method::HEAD),
            ("options", &raw.options, Method::OPTIONS),
        ];
        let mut actions: Vec<&str> = methods
            .iter()
            .filter(|m| m.1.is_some())
            .map(|m| m.0)
            .collect();
        if raw.set_headers.is_some() {
            actions.push("set_headers");
        }
        if raw.set.is_some() {
            actions.push("set");
        }
        for (name, set) in [
            ("sleep", raw.sleep.is_some()),
            ("if", raw.if_.is_some()),
            ("loop", raw.loop_.is_some()),
            ("group", raw.group.is_some()),
            ("script", raw.script.is_some()),
        ] {
            if set {
                actions.push(name);
            }
        }
        match actions.as_slice() {
            [] => {
                return Err(self
                    .loc
                    .at(at, format!("step has no action: expected one of {ACTIONS}")));
            }
            [_] => {}
            [a, b, ..] => {
                return Err(self.loc.at(
                    at,
                    format!("step has more than one action (`{a}` and `{b}`)"),
                ));
            }
        }
        let action = actions[0];
        for (key, set, owners) in [
            ("then", raw.then.is_some(), "an `if` step"),
            ("else", raw.else_.is_some(), "an `if` step"),
            ("steps", raw.steps.is_some(), "a `loop` or `group` step"),
        ] {
            let owner = match key {
                "steps" => matches!(action, "loop" | "group"),
                _ => action == "if",
            };
            if set && !owner {
                return Err(self.loc.at(at, format!("`{key}` only applies to {owners}")));
            }
        }
        if let Some((_, Some(target), method)) = methods.into_iter().find(|m| m.1.is_some()) {
            return Ok(Step::Request(Box::new(
                self.request(raw, method, target, known)?,
            )));
        }
        if let Some(opt) = request_option(raw) {
            return Err(self
                .loc
                .at(at, format!("`{opt}` only applies to a request step")));
        }
        if let Some(step) = self.flow_step(raw, at, known)? {
            return Ok(step);
        }
        if let Some(h) = &raw.set_headers {
            return Ok(Step::SetHeaders(self.headers(h, known)?));
        }
        if let Some(vars) = &raw.set {
            let mut out = Vec::new();
            for (name, value) in vars {
                if !is_identifier(name) {
                    return Err(self.loc.at(
                        &value.referenced,
                        format!("`{name}` is not a usable variable name"),
                    ));
                }
                let v = self
                    .templates
                    .compile_value(&value.value, known)
                    .map_err(|e| self.loc.at(&value.referenced, e))?;
                out.push((name.clone(), v));
            }
            return Ok(Step::Set(out));
        }
        let sleep = raw.sleep.as_ref().expect("one action is set");
        Ok(Step::Sleep(self.duration(sleep)?))
    }

    fn request(
        &mut self,
        raw: &RawStep,
        method: Method,
        target_raw: &Sp<String>,
        known: &BTreeSet<String>,
    ) -> Result<RequestStep> {
        let t = target_raw.value.trim();
        let full_url = t.starts_with("http://") || t.starts_with("https://");
        if !(t.starts_with('/') || full_url || t.starts_with("{{")) {
            return Err(self.loc.at(
                &target_raw.referenced,
                format!("request target `{t}` must be a path starting with `/` or a full http:// or https:// url"),
            ));
        }
        let target = self.template(target_raw, known)?;
        let name = match &raw.name {
            Some(n) if n.value.trim().is_empty() => {
                return Err(self.loc.at(&n.referenced, "request `name` is empty"));
            }
            Some(n) => n.value.clone(),
            None => t.split('?').next().unwrap_or(t).to_owned(),
        };
        let stat = self.stat_slot(method.as_str(), &name);
        let query = raw
            .query
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.text_template(v, known)?)))
            .collect::<Result<Vec<_>>>()?;
        let headers = self.headers(&raw.headers, known)?;
        let bodies = [raw.json.is_some(), raw.form.is_some(), raw.body.is_some()];
        if bodies.iter().filter(|b| **b).count() > 1 {
            return Err(self.loc.at(
                &target_raw.referenced,
                "a request takes only one of `json`, `form` and `body`",
            ));
        }
        let body = if let Some(j) = &raw.json {
            Body::Json(
                self.templates
                    .compile_value(&j.value, known)
                    .map_err(|e| self.loc.at(&j.referenced, e))?,
            )
        } else if let Some(f) = &raw.form {
            Body::Form(
                f.iter()
                    .map(|(k, v)| Ok((k.clone(), self.text_template(v, known)?)))
                    .collect::<Result<Vec<_>>>()?,
            )
        } else if let Some(b) = &raw.body {
            Body::Raw(self.template(b, known)?)
        } else {
            Body::Empty
        };
        let timeout = match &raw.timeout {
            Some(t) => Some(self.duration(t)?),
            None => self.default_timeout,
        };
        if timeout.is_some_and(|t| t.is_zero()) {
            let at = raw
                .timeout
                .as_ref()
                .map_or(target_raw.referenced, |t| t.referenced);
            return Err(self.loc.at(&at, "timeout must be above zero"));
        }
        let expect = match &raw.expect {
            Some(e) => self.expect(&e.value, &e.referenced, known)?,
            None => Expect::default(),
        };
        let extract = raw
            .extract
            .iter()
            .map(|(var, e)| self.extract(var, &e.value, &e.referenced))
            .collect::<Result<Vec<_>>>()?;
        let retry = raw
            .retry
            .as_ref()
            .map(|r| self.retry(r, known))
            .transpose()?;
        let continue_on_failure = match &raw.on_failure {
            Some(f) => self.on_failure(f)?,
            None => self.default_continue,
        };
        Ok(RequestStep {
            continue_on_failure,
            retry,
            method,
            target,
            stat,
            query,
            headers,
            body,
            timeout,
            follow_redirects: raw.allow_redirects.unwrap_or(true),
            http_version: match &raw.http_version {
                Some(v) => Some(self.http_version(v)?),
                None => self.class_version,
            },
            expect,
            extract,
        })
    }

    fn expect(
        &mut self,
        raw: &RawExpect,
        at: &Location,
        known: &BTreeSet<String>,
    ) -> Result<Expect> {
        let status = raw.status.as_ref().map(|s| match s {
            super::raw::OneOrMany::One(v) => vec![*v],
            super::raw::OneOrMany::Many(v) => v.clone(),
        });
        let status = status.unwrap_or_default();
        if let Some(bad) = status.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(self.loc.at(
                at,
                format!("expected status {bad} is not an http status code"),
            ));
        }
        let body_contains = raw
            .body_contains
            .as_ref()
            .map(|b| self.template(b, known))
            .transpose()?;
        let mut jsonpath = Vec::new();
        for (path, value) in &raw.jsonpath {
            let parsed = parse_jsonpath(path).map_err(|e| self.loc.at(&value.referenced, e))?;
            let equals = self
                .templates
                .compile_value(&value.value, known)
                .map_err(|e| self.loc.at(&value.referenced, e))?;
            jsonpath.push(JsonCheck {
                source: path.clone(),
                path: parsed,
                equals,
            });
        }
        Ok(Expect {
            status,
            body_contains,
            jsonpath,
        })
    }

    fn extract(&mut self, var: &str, raw: &RawExtract, at: &Location) -> Result<Extract> {
        if !is_identifier(var) {
            return Err(self
                .loc
                .at(at, format!("`{var}` is not a usable variable name")));
        }
        let from = match (&raw.jsonpath, &raw.header, &raw.regex) {
            (None, None, None) if raw.status.as_ref().is_some_and(|s| s.value) => {
                ExtractFrom::Status
            }
            _ if raw.status.is_some() => {
                return Err(self.loc.at(
                    at,
                    format!(
                        "extract `{var}` takes exactly one of jsonpath, header, regex, status: true"
                    ),
                ));
            }
            (Some(p), None, None) => ExtractFrom::JsonPath {
                source: p.value.clone(),
                path: parse_jsonpath(&p.value).map_err(|e| self.loc.at(&p.referenced, e))?,
            },
            (None, Some(h), None) => {
                ExtractFrom::Header(HeaderName::from_bytes(h.value.as_bytes()).map_err(|_| {
                    self.loc
                        .at(&h.referenced, format!("invalid header name `{}`", h.value))
                })?)
            }
            (None, None, Some(r)) => {
                let regex = Regex::new(&r.value).map_err(|e| {
                    self.loc.at(
                        &r.referenced,
                        format!("invalid regex: {}", first_line(&e.to_string())),
                    )
                })?;
                let groups = regex.captures_len() - 1;
                let group = raw.group.unwrap_or(usize::from(groups > 0));
                if group > groups {
                    return Err(self.loc.at(
                        &r.referenced,
                        format!("regex has {groups} capture group(s), group {group} asked"),
                    ));
                }
                ExtractFrom::Regex { regex, group }
            }
            _ => {
                return Err(self.loc.at(
                    at,
                    format!(
                        "extract `{var}` takes exactly one of jsonpath, header, regex, status: true"
                    ),
                ));
            }
        };
        if raw.group.is_some() && raw.regex.is_none() {
            return Err(self
                .loc
                .at(at, "`group` only applies to a regex extraction"));
        }
        Ok(Extract {
            var: var.to_owned(),
            from,
            default: raw.default.clone(),
        })
    }
}

fn parse_jsonpath(p: &str) -> std::result::Result<JsonPath, String> {
    JsonPath::parse(p).map_err(|e| {
        format!(
            "invalid jsonpath `{p}`: {}",
            first_line(&e.to_string()).to_lowercase()
        )
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn request_option(raw: &RawStep) -> Option<&'static str> {
    [
        ("name", raw.name.is_some()),
        ("query", !raw.query.is_empty()),
        ("headers", !raw.headers.is_empty()),
        ("json", raw.json.is_some()),
        ("form", raw.form.is_some()),
        ("body", raw.body.is_some()),
        ("timeout", raw.timeout.is_some()),
        ("allow_redirects", raw.allow_redirects.is_some()),
        ("http_version", raw.http_version.is_some()),
        ("expect", raw.expect.is_some()),
        ("extract", !raw.extract.is_empty()),
        ("retry", raw.retry.is_some()),
        ("on_failure", raw.on_failure.is_some()),
    ]
    .into_iter()
    .find(|(_, set)| *set)
    .map(|(n, _)| n)
}
