//! The scenario file as written: serde structs mirroring the YAML, with source
//! spans kept on every value that a later check may need to point at. Nothing
//! here is validated beyond its YAML shape; `compile` turns it into the model.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_saphyr::Spanned;

pub(crate) type Sp<T> = Spanned<T>;
pub(crate) type TextMap = BTreeMap<String, Sp<Text>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub host: Option<Sp<String>>,
    /// The proxy of every request (`--proxy` wins).
    #[serde(default)]
    pub proxy: Option<Sp<String>>,
    #[serde(default)]
    pub variables: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    #[serde(default)]
    pub thresholds: Vec<Sp<RawThreshold>>,
    #[serde(default)]
    pub stages: Option<Sp<Vec<Sp<RawStage>>>>,
    #[serde(default)]
    pub arrival_rate: Option<Sp<RawArrival>>,
    /// Luau files whose functions templates and steps may call.
    #[serde(default)]
    pub scripts: Vec<Sp<String>>,
    /// Inline Luau, as if it were one more file of `scripts`.
    #[serde(default)]
    pub script: Option<Sp<String>>,
    #[serde(default)]
    pub script_limits: Option<Sp<RawScriptLimits>>,
    /// A load shape as code: the name of a script function of the elapsed time.
    #[serde(default)]
    pub shape: Option<Sp<String>>,
    pub users: Sp<Vec<Sp<RawUserClass>>>,
}

/// `{instructions: 1000000, memory: 256MiB}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScriptLimits {
    #[serde(default)]
    pub instructions: Option<Sp<u64>>,
    #[serde(default)]
    pub memory_mb: Option<Sp<u64>>,
}

/// `- {duration: 1m, target: 100}`: ramp to `target` users over `duration`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStage {
    pub duration: Sp<Text>,
    pub target: u64,
}

/// The open model: `{rate: 500/s, duration: 5m, max_users: 2000}`, or
/// `{start_rate: 0/s, stages: [{duration: 1m, target: 500/s}], max_users: 2000}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArrival {
    #[serde(default)]
    pub rate: Option<Sp<Text>>,
    #[serde(default)]
    pub duration: Option<Sp<Text>>,
    #[serde(default)]
    pub start_rate: Option<Sp<Text>>,
    #[serde(default)]
    pub stages: Option<Sp<Vec<Sp<RawRateStage>>>>,
    #[serde(default)]
    pub max_users: Option<Sp<u64>>,
}

/// `- {duration: 1m, target: 500/s}`: ramp to `target` iterations per second.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRateStage {
    pub duration: Sp<Text>,
    pub target: Sp<Text>,
}

/// `- p95<2s`, or `- {threshold: p95<2s, abort_on_fail: true, delay_abort_eval: 10s}`.
#[derive(Debug, Default)]
pub(crate) struct RawThreshold {
    pub threshold: String,
    pub abort_on_fail: bool,
    pub delay_abort_eval: Option<String>,
}

impl<'de> Deserialize<'de> for RawThreshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawThreshold;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a threshold like `p95<2s` or a map with `threshold`, `abort_on_fail`, `delay_abort_eval`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawThreshold, E> {
                Ok(RawThreshold {
                    threshold: v.to_owned(),
                    ..RawThreshold::default()
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawThreshold, A::Error> {
                let mut out = RawThreshold::default();
                let mut seen = false;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "threshold" => {
                            out.threshold = map.next_value()?;
                            seen = true;
                        }
                        "abort_on_fail" => out.abort_on_fail = map.next_value()?,
                        "delay_abort_eval" => {
                            out.delay_abort_eval = Some(map.next_value::<Text>()?.0)
                        }
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["threshold", "abort_on_fail", "delay_abort_eval"],
                            ));
                        }
                    }
                }
                if !seen {
                    return Err(de::Error::missing_field("threshold"));
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    #[serde(default)]
    pub headers: TextMap,
    #[serde(default)]
    pub timeout: Option<Sp<Text>>,
    /// `auto`, `"1.1"` or `"2"`.
    #[serde(default)]
    pub http_version: Option<Sp<Text>>,
    /// What a failed request does to its task: `stop` (the default) or `continue`.
    #[serde(default)]
    pub on_failure: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUserClass {
    pub name: Sp<String>,
    #[serde(default)]
    pub weight: Option<Sp<u32>>,
    #[serde(default)]
    pub fixed_count: Option<Sp<u32>>,
    #[serde(default)]
    pub host: Option<Sp<String>>,
    #[serde(default)]
    pub http_version: Option<Sp<Text>>,
    #[serde(default)]
    pub wait: Option<Sp<RawWait>>,
    #[serde(default)]
    pub data: Option<Sp<RawFeeder>>,
    #[serde(default)]
    pub variables: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub headers: TextMap,
    #[serde(default)]
    pub on_start: Vec<Sp<RawStep>>,
    #[serde(default)]
    pub on_stop: Vec<Sp<RawStep>>,
    #[serde(default)]
    pub sequence: Option<Sp<Vec<Sp<RawStep>>>>,
    #[serde(default)]
    pub tasks: Option<Sp<RawTasks>>,
    /// A scripted user: a Luau file with `on_start`, tasks and `on_stop`.
    #[serde(default)]
    pub script: Option<Sp<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWait {
    #[serde(default)]
    pub between: Option<(Sp<Text>, Sp<Text>)>,
    #[serde(default)]
    pub constant: Option<Sp<Text>>,
    #[serde(default)]
    pub constant_pacing: Option<Sp<Text>>,
    #[serde(default)]
    pub constant_throughput: Option<Sp<f64>>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawOrder {
    Sequential,
    Random,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeeder {
    pub file: Sp<String>,
    #[serde(default)]
    pub order: Option<RawOrder>,
}

/// A user's weighted `tasks`: a list of `{weight, steps}`. Anything else
/// (a map such as `{sequence: [...]}`, a string, a number) gets a message
/// that says what `tasks` must be and where ordered steps go.
#[derive(Debug)]
pub(crate) struct RawTasks(pub Vec<Sp<RawTask>>);

const TASKS_SHAPE: &str =
    "`tasks` must be a list of `{weight, steps}`; ordered steps go under `sequence:` on the user";

impl<'de> Deserialize<'de> for RawTasks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTasks;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(TASKS_SHAPE)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawTasks, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = seq.next_element()? {
                    out.push(t);
                }
                Ok(RawTasks(out))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<RawTasks, A::Error> {
                Err(de::Error::custom(TASKS_SHAPE))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<RawTasks, E> {
                Err(E::custom(TASKS_SHAPE))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawTasks, E> {
                Err(E::custom(TASKS_SHAPE))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawTasks, E> {
                Err(E::custom(TASKS_SHAPE))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawTasks, E> {
                Err(E::custom(TASKS_SHAPE))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawTasks, E> {
                Err(E::custom(TASKS_SHAPE))
            }
        }
        d.deserialize_any(V)
    }
}

impl std::ops::Deref for RawTasks {
    type Target = Vec<Sp<RawTask>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'a> IntoIterator for &'a RawTasks {
    type Item = &'a Sp<RawTask>;
    type IntoIter = std::slice::Iter<'a, Sp<RawTask>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTask {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub weight: Option<Sp<u32>>,
    /// For `--tags` / `--exclude-tags`.
    #[serde(default)]
    pub tags: Vec<String>,
    pub steps: Sp<Vec<Sp<RawStep>>>,
}

/// One step: exactly one action key (an HTTP method, `set_headers`, `set` or
/// `sleep`), plus the request options when the action is a request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    #[serde(default)]
    pub get: Option<Sp<String>>,
    #[serde(default)]
    pub post: Option<Sp<String>>,
    #[serde(default)]
    pub put: Option<Sp<String>>,
    #[serde(default)]
    pub patch: Option<Sp<String>>,
    #[serde(default)]
    pub delete: Option<Sp<String>>,
    #[serde(default)]
    pub head: Option<Sp<String>>,
    #[serde(default)]
    pub options: Option<Sp<String>>,
    #[serde(default)]
    pub name: Option<Sp<String>>,
    #[serde(default)]
    pub query: TextMap,
    #[serde(default)]
    pub headers: TextMap,
    #[serde(default)]
    pub json: Option<Sp<serde_json::Value>>,
    #[serde(default)]
    pub form: Option<TextMap>,
    #[serde(default)]
    pub body: Option<Sp<String>>,
    #[serde(default)]
    pub timeout: Option<Sp<Text>>,
    #[serde(default)]
    pub allow_redirects: Option<bool>,
    #[serde(default)]
    pub http_version: Option<Sp<Text>>,
    #[serde(default)]
    pub expect: Option<Sp<RawExpect>>,
    #[serde(default)]
    pub extract: BTreeMap<String, Sp<RawExtract>>,
    #[serde(default)]
    pub set_headers: Option<TextMap>,
    #[serde(default)]
    pub set: Option<BTreeMap<String, Sp<serde_json::Value>>>,
    #[serde(default)]
    pub sleep: Option<Sp<Text>>,
    /// `retry: {attempts, backoff, until}` on a request.
    #[serde(default)]
    pub retry: Option<Sp<RawRetry>>,
    /// `stop` or `continue`: whether a failed request ends its task.
    #[serde(default)]
    pub on_failure: Option<Sp<String>>,
    /// `if: <condition>` with `then:` and `else:` steps.
    #[serde(default, rename = "if")]
    pub if_: Option<Sp<Text>>,
    #[serde(default)]
    pub then: Option<Sp<Vec<Sp<RawStep>>>>,
    #[serde(default, rename = "else")]
    pub else_: Option<Sp<Vec<Sp<RawStep>>>>,
    /// `loop: {while|until|times|for_each, max}` with `steps:`.
    #[serde(default, rename = "loop")]
    pub loop_: Option<Sp<RawLoop>>,
    /// `group: name` with `steps:`: a named transaction.
    #[serde(default)]
    pub group: Option<Sp<String>>,
    /// The steps of a `loop` or a `group`.
    #[serde(default)]
    pub steps: Option<Sp<Vec<Sp<RawStep>>>>,
    /// Luau run with the user's variables as `vars`.
    #[serde(default)]
    pub script: Option<Sp<String>>,
    /// For `--tags` / `--exclude-tags`: a step of a sequence is a task.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `retry: {attempts: 5, backoff: 200ms, until: "{{ status == 'done' }}"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub attempts: Sp<u32>,
    #[serde(default)]
    pub backoff: Option<Sp<Text>>,
    #[serde(default)]
    pub factor: Option<Sp<f64>>,
    #[serde(default)]
    pub until: Option<Sp<Text>>,
}

/// A loop's kind and bound.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoop {
    #[serde(default, rename = "while")]
    pub while_: Option<Sp<Text>>,
    #[serde(default)]
    pub until: Option<Sp<Text>>,
    #[serde(default)]
    pub times: Option<Sp<u32>>,
    #[serde(default)]
    pub for_each: Option<Sp<RawForEach>>,
    #[serde(default)]
    pub max: Option<Sp<u32>>,
}

/// `for_each: {in: "{{ items }}", as: item}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawForEach {
    #[serde(rename = "in")]
    pub in_: Sp<String>,
    #[serde(rename = "as")]
    pub as_: Sp<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    #[serde(default)]
    pub status: Option<OneOrMany<u16>>,
    #[serde(default)]
    pub body_contains: Option<Sp<String>>,
    #[serde(default)]
    pub jsonpath: BTreeMap<String, Sp<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExtract {
    #[serde(default)]
    pub jsonpath: Option<Sp<String>>,
    #[serde(default)]
    pub header: Option<Sp<String>>,
    #[serde(default)]
    pub regex: Option<Sp<String>>,
    /// `status: true`: the response's status code.
    #[serde(default)]
    pub status: Option<Sp<bool>>,
    #[serde(default)]
    pub group: Option<usize>,
    /// Present (even as `null`) means a value when nothing matched.
    #[serde(default, deserialize_with = "present")]
    pub default: Option<serde_json::Value>,
}

/// `default: null` is a default of null, not no default.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// A scalar written as text: YAML strings, numbers and booleans all become
/// their text (`page: 2` is the query value `2`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
