//! What the UI and its API may ask for: request bodies (a JSON object, or a
//! form with Locust's `user_count`/`spawn_rate`/`host` fields) read into
//! [`Fields`] field by field, so that bad input gets one clear lowercase
//! message; the run's own checks are [`RunTemplate::plan`]'s.
//!
//! [`RunTemplate::plan`]: crate::run::RunTemplate::plan

use std::time::Duration;

use serde_json::Value;
use stampede_common::duration::parse_duration;

use crate::MasterError;
use crate::run::StartRequest;

/// Why a UI request was refused; the API answers with the status it implies.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Bad input (400).
    #[error("{0}")]
    BadRequest(String),
    /// Not possible in the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// Nothing to show yet (404).
    #[error("{0}")]
    NotFound(String),
    /// The master refused or is gone.
    #[error(transparent)]
    Master(#[from] MasterError),
}

/// The fields of a request body, in order; a form's repeated keys repeat.
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<(String, Value)>);

fn bad(msg: String) -> WebError {
    WebError::BadRequest(msg)
}

/// Reads a JSON object or an urlencoded form, by content type.
pub(crate) fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Fields, WebError> {
    let ct = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let trimmed = body.trim_ascii();
    if ct == "application/json" || (ct.is_empty() && trimmed.starts_with(b"{")) {
        if trimmed.is_empty() {
            return Ok(Fields::default());
        }
        return match serde_json::from_slice::<Value>(trimmed) {
            Ok(Value::Object(map)) => Ok(Fields(map.into_iter().collect())),
            Ok(_) => Err(bad("invalid body: expected a json object".into())),
            Err(e) => Err(bad(format!("invalid json body: {e}"))),
        };
    }
    if ct.is_empty() || ct == "application/x-www-form-urlencoded" {
        let pairs = url::form_urlencoded::parse(trimmed)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Ok(Fields(pairs));
    }
    Err(bad(format!(
        "unsupported content type `{ct}`: send application/json or application/x-www-form-urlencoded"
    )))
}

/// A value as the message shows it.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Fields {
    /// The first value under any of `names`; empty strings and nulls count as absent.
    fn get(&self, names: &[&str]) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, v)| {
                names.contains(&k.as_str())
                    && !v.is_null()
                    && v.as_str().is_none_or(|s| !s.trim().is_empty())
            })
            .map(|(_, v)| v)
    }

    /// A count of users: a whole number, 0 or more.
    pub(crate) fn users(&self) -> Result<Option<u64>, WebError> {
        let Some(v) = self.get(&["users", "user_count"]) else {
            return Ok(None);
        };
        let n = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        n.map(Some).ok_or_else(|| {
            bad(format!(
                "invalid users `{}`: expected a whole number of 0 or more",
                shown(v)
            ))
        })
    }

    /// Users started per second: a number above 0.
    pub(crate) fn spawn_rate(&self) -> Result<Option<f64>, WebError> {
        let Some(v) = self.get(&["spawn_rate"]) else {
            return Ok(None);
        };
        let r = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match r {
            Some(r) if r.is_finite() && r > 0.0 => Ok(Some(r)),
            _ => Err(bad(format!(
                "invalid spawn rate `{}`: expected a number of users per second above 0",
                shown(v)
            ))),
        }
    }

    /// A trimmed text field.
    fn text(&self, names: &[&str]) -> Result<Option<String>, WebError> {
        match self.get(names) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(bad(format!("invalid {}: expected text", names[0]))),
        }
    }

    /// A run time: seconds as a number, or text such as `90s`, `5m`, `1h30m`.
    fn run_time(&self) -> Result<Option<Duration>, WebError> {
        let Some(v) = self.get(&["run_time"]) else {
            return Ok(None);
        };
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let d = parse_duration(&text).map_err(|e| bad(format!("run time: {e}")))?;
        if d.is_zero() {
            return Err(bad("run time must be above 0".into()));
        }
        Ok(Some(d))
    }

    /// User classes: a JSON array, repeated form fields, or a comma-separated list.
    fn classes(&self) -> Result<Option<Vec<String>>, WebError> {
        let mut out = Vec::new();
        let mut given = false;
        for (k, v) in &self.0 {
            if k != "classes" && k != "user_classes" {
                continue;
            }
            given = true;
            match v {
                Value::Array(items) => {
                    for item in items {
                        let Value::String(s) = item else {
                            return Err(bad(
                                "invalid classes: expected a list of class names".into()
                            ));
                        };
                        out.push(s.trim().to_owned());
                    }
                }
                Value::String(s) => out.extend(s.split(',').map(|c| c.trim().to_owned())),
                Value::Null => {}
                _ => {
                    return Err(bad("invalid classes: expected a list of class names".into()));
                }
            }
        }
        out.retain(|c| !c.is_empty());
        Ok(given.then_some(out))
    }
}

/// `POST /api/swarm`: each field given replaces the form's default.
pub(crate) fn start_request(f: &Fields, defaults: StartRequest) -> Result<StartRequest, WebError> {
    Ok(StartRequest {
        users: f.users()?.unwrap_or(defaults.users),
        spawn_rate: f.spawn_rate()?.unwrap_or(defaults.spawn_rate),
        host: f.text(&["host"])?.or(defaults.host),
        run_time: f.run_time()?.or(defaults.run_time),
        classes: f.classes()?.unwrap_or(defaults.classes),
    })
}

/// `POST /api/users`: the new user count, and a spawn rate if given.
pub(crate) fn users_request(f: &Fields) -> Result<(u64, Option<f64>), WebError> {
    let users = f
        .users()?
        .ok_or_else(|| bad("missing users: send {\"users\": N}".into()))?;
    Ok((users, f.spawn_rate()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> StartRequest {
        StartRequest {
            users: 1,
            spawn_rate: 1.0,
            host: Some("http://default".into()),
            run_time: None,
            classes: vec![],
        }
    }

    fn json(body: &str) -> Result<StartRequest, WebError> {
        start_request(
            &parse(Some("application/json"), body.as_bytes())?,
            defaults(),
        )
    }

    fn err(r: Result<StartRequest, WebError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn json_fields_replace_the_defaults() {
        let r = json(r#"{"users": 10, "spawn_rate": 2.5, "host": " http://x:1 ", "run_time": "1m30s", "classes": ["A", "B"]}"#).unwrap();
        assert_eq!(r.users, 10);
        assert_eq!(r.spawn_rate, 2.5);
        assert_eq!(r.host.as_deref(), Some("http://x:1"));
        assert_eq!(r.run_time, Some(Duration::from_secs(90)));
        assert_eq!(r.classes, ["A", "B"]);
        assert_eq!(json("{}").unwrap(), defaults());
        assert_eq!(
            json(r#"{"run_time": 30}"#).unwrap().run_time,
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn locust_form_fields_work() {
        let body =
            b"user_count=5&spawn_rate=1&host=http%3A%2F%2Fh%3A8000&user_classes=A&user_classes=B";
        let f = parse(Some("application/x-www-form-urlencoded"), body).unwrap();
        let r = start_request(&f, defaults()).unwrap();
        assert_eq!((r.users, r.spawn_rate), (5, 1.0));
        assert_eq!(r.host.as_deref(), Some("http://h:8000"));
        assert_eq!(r.classes, ["A", "B"]);
    }

    #[test]
    fn bad_values_get_one_clear_message() {
        assert_eq!(
            err(json(r#"{"users": -5}"#)),
            "invalid users `-5`: expected a whole number of 0 or more"
        );
        assert_eq!(
            err(json(r#"{"users": 1.5}"#)),
            "invalid users `1.5`: expected a whole number of 0 or more"
        );
        assert_eq!(
            err(json(r#"{"spawn_rate": 0}"#)),
            "invalid spawn rate `0`: expected a number of users per second above 0"
        );
        assert!(
            err(json(r#"{"run_time": "soon"}"#)).starts_with("run time: invalid duration `soon`")
        );
        assert!(err(json("{\"users\": ")).starts_with("invalid json body: "));
        assert_eq!(err(json("[1]")), "invalid body: expected a json object");
        assert_eq!(err(json(r#"{"host": 5}"#)), "invalid host: expected text");
        assert!(parse(Some("multipart/form-data; boundary=x"), b"").is_err());
    }

    #[test]
    fn users_change_needs_users() {
        let f = parse(Some("application/json"), br#"{"spawn_rate": 3}"#).unwrap();
        assert!(
            users_request(&f)
                .unwrap_err()
                .to_string()
                .starts_with("missing users")
        );
        let f = parse(None, b"user_count=0").unwrap();
        assert_eq!(users_request(&f).unwrap(), (0, None));
    }
}
