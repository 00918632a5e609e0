//! Turns the raw YAML model into a validated [`Scenario`]: classes, weights,
//! wait times, feeders and the set of variables each class may use. Steps are
//! compiled in `steps` and `flow`, the scripts in `scripts`. Every error
//! points at file:line:col.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use serde_saphyr::Location;

use super::error::{Locator, ScenarioError};
use super::model::{FeedOrder, Feeder, Scenario, Task, Tasks, UserClass, WaitTime};
use super::raw::{RawFeeder, RawOrder, RawScenario, RawUserClass, RawWait, Sp, Text, TextMap};
use super::template::{BUILTIN_VARIABLES, Template, Templates};
use crate::duration::parse_duration;
use crate::run::{HttpVersion, ProxyUrl, Target, TargetError};
use crate::stats::StatsKey;
use stampede_script::ProgramBuilder;

pub(crate) struct Compiler<'a> {
    pub loc: Locator<'a>,
    pub templates: Templates,
    pub stat_keys: Vec<StatsKey>,
    stat_index: HashMap<StatsKey, usize>,
    pub files: &'a BTreeMap<String, String>,
    pub default_timeout: Option<Duration>,
    pub default_headers: Vec<(HeaderName, Template)>,
    /// `defaults: {on_failure: continue}`.
    pub default_continue: bool,
    /// `defaults: {http_version: ...}`.
    pub default_version: Option<HttpVersion>,
    /// The `http_version` of the class being compiled (or the default).
    pub class_version: Option<HttpVersion>,
    /// The scenario's scripts, gathered as classes and steps are compiled.
    pub script: ProgramBuilder,
    /// Where each script was named, for its errors.
    pub script_spans: Vec<(String, Location)>,
}

type Result<T> = std::result::Result<T, ScenarioError>;

/// Compiles the parsed scenario `raw` of the file `loc` names, with the
/// data `files` it may use.
pub(crate) fn compile(
    loc: Locator<'_>,
    files: &BTreeMap<String, String>,
    raw: RawScenario,
) -> Result<Scenario> {
    let path = loc.file;
    let mut c = Compiler {
        loc,
        templates: Templates::new(),
        stat_keys: Vec::new(),
        stat_index: HashMap::new(),
        files,
        default_timeout: None,
        default_headers: Vec::new(),
        default_continue: false,
        default_version: None,
        class_version: None,
        script: ProgramBuilder::default(),
        script_spans: Vec::new(),
    };
    c.shared_scripts(&raw)?;
    let globals: BTreeSet<String> = BUILTIN_VARIABLES
        .iter()
        .map(|s| s.to_string())
        .chain(raw.variables.keys().cloned())
        .collect();
    if let Some(d) = &raw.defaults {
        c.default_timeout = d.timeout.as_ref().map(|t| c.duration(t)).transpose()?;
        c.default_headers = c.headers(&d.headers, &globals)?;
        if let Some(f) = &d.on_failure {
            c.default_continue = c.on_failure(f)?;
        }
        c.default_version = d
            .http_version
            .as_ref()
            .map(|v| c.http_version(v))
            .transpose()?;
    }
    let proxy = raw
        .proxy
        .as_ref()
        .map(|p| {
            p.value
                .parse::<ProxyUrl>()
                .map_err(|e| c.loc.at(&p.referenced, e))
        })
        .transpose()?;
    let host = raw
        .host
        .as_ref()
        .map(|h| check_host(&c.loc, h))
        .transpose()?;
    if raw.users.value.is_empty() {
        return Err(c.loc.at(&raw.users.referenced, "`users` has no user class"));
    }
    let mut classes = Vec::new();
    let mut names = BTreeSet::new();
    for class in &raw.users.value {
        let compiled = c.class(&class.value, &class.referenced, &raw.variables)?;
        if !names.insert(compiled.name.clone()) {
            return Err(c.loc.at(
                &class.value.name.referenced,
                format!("duplicate user class `{}`", compiled.name),
            ));
        }
        classes.push(compiled);
    }
    if classes
        .iter()
        .all(|c| c.fixed_count.is_none() && c.weight == 0)
    {
        return Err(c
            .loc
            .at(&raw.users.referenced, "every user class has weight 0"));
    }
    let thresholds = raw
        .thresholds
        .iter()
        .map(|t| c.threshold(t))
        .collect::<Result<Vec<_>>>()?;
    let stages = c.load_stages(raw.stages.as_ref())?;
    let arrival = c.load_arrival(raw.arrival_rate.as_ref())?;
    if let (Some(_), Some(a)) = (&raw.stages, &raw.arrival_rate) {
        return Err(c.loc.at(
            &a.referenced,
            "`arrival_rate` and `stages` cannot both be set (the open and the closed model)",
        ));
    }
    if arrival.is_some()
        && let Some(f) = raw
            .users
            .value
            .iter()
            .find_map(|u| u.value.fixed_count.as_ref())
    {
        return Err(c.loc.at(
            &f.referenced,
            "`fixed_count` does not apply with `arrival_rate` (iterations are shared by weight)",
        ));
    }
    let program = c.build_program(&raw, &mut classes)?;
    let shape = c.code_shape(&raw, program.as_deref())?;
    let name = raw.name.clone().unwrap_or_else(|| file_stem(path));
    Ok(Scenario {
        program,
        shape,
        name,
        description: raw.description.clone(),
        host,
        proxy,
        classes,
        templates: c.templates,
        stat_keys: c.stat_keys,
        thresholds,
        stages,
        arrival,
    })
}

fn file_stem(path: &str) -> String {
    std::path::Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario")
        .to_owned()
}

fn check_host(loc: &Locator<'_>, host: &Sp<String>) -> Result<Target> {
    host.value
        .parse()
        .map_err(|e: TargetError| loc.at(&host.referenced, e.to_string()))
}

impl Compiler<'_> {
    fn class(
        &mut self,
        raw: &RawUserClass,
        at: &Location,
        scenario_vars: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<UserClass> {
        let name = raw.name.value.trim().to_owned();
        if name.is_empty() {
            return Err(self
                .loc
                .at(&raw.name.referenced, "user class name is empty"));
        }
        if let (Some(_), Some(fixed)) = (&raw.weight, &raw.fixed_count) {
            return Err(self.loc.at(
                &fixed.referenced,
                "`weight` and `fixed_count` cannot both be set",
            ));
        }
        let host = raw
            .host
            .as_ref()
            .map(|h| check_host(&self.loc, h))
            .transpose()?;
        let wait = match &raw.wait {
            Some(w) => self.wait(&w.value, &w.referenced)?,
            None => WaitTime::Constant(Duration::ZERO),
        };
        let feeder = raw
            .data
            .as_ref()
            .map(|f| self.feeder(&f.value))
            .transpose()?
            .map(Arc::new);

        let mut known: BTreeSet<String> = BUILTIN_VARIABLES.iter().map(|s| s.to_string()).collect();
        known.extend(scenario_vars.keys().cloned());
        known.extend(raw.variables.keys().cloned());
        if let Some(f) = &feeder {
            known.extend(f.columns.iter().cloned());
        }
        let all_steps = raw
            .on_start
            .iter()
            .chain(&raw.on_stop)
            .chain(raw.sequence.iter().flat_map(|s| &s.value))
            .chain(
                raw.tasks
                    .iter()
                    .flat_map(|t| &t.value)
                    .flat_map(|t| &t.value.steps.value),
            );
        for step in all_steps {
            super::flow::assigned_names(&step.value, &mut known);
        }

        self.class_version = match &raw.http_version {
            Some(v) => Some(self.http_version(v)?),
            None => self.default_version,
        };
        let mut headers = self.default_headers.clone();
        headers.extend(self.headers(&raw.headers, &known)?);
        let on_start = self.steps(&raw.on_start, &known)?;
        let on_stop = self.steps(&raw.on_stop, &known)?;
        let tasks = match (&raw.sequence, &raw.tasks) {
            _ if raw.script.is_some() => self.scripted_tasks(raw)?,
            (Some(_), Some(t)) => {
                return Err(self
                    .loc
                    .at(&t.referenced, "`sequence` and `tasks` cannot both be set"));
            }
            (None, None) => {
                return Err(self.loc.at(
                    at,
                    format!("user class `{name}` has neither `sequence` nor `tasks`"),
                ));
            }
            (Some(seq), None) => {
                if seq.value.is_empty() {
                    return Err(self.loc.at(&seq.referenced, "`sequence` has no steps"));
                }
                Tasks::Sequence(self.steps(&seq.value, &known)?)
            }
            (None, Some(list)) => {
                if list.value.is_empty() {
                    return Err(self.loc.at(&list.referenced, "`tasks` has no task"));
                }
                let mut tasks = Vec::new();
                for t in &list.value {
                    let weight = match &t.value.weight {
                        Some(w) if w.value == 0 => {
                            return Err(self
                                .loc
                                .at(&w.referenced, "task weight must be at least 1"));
                        }
                        Some(w) => w.value,
                        None => 1,
                    };
                    if t.value.steps.value.is_empty() {
                        return Err(self.loc.at(&t.value.steps.referenced, "task has no steps"));
                    }
                    let steps = self.steps(&t.value.steps.value, &known)?;
                    tasks.push(Task {
                        name: t.value.name.clone(),
                        tags: t.value.tags.clone(),
                        weight,
                        steps,
                    });
                }
                let total_weight = tasks.iter().map(|t| t.weight).sum();
                Tasks::Weighted {
                    tasks,
                    total_weight,
                }
            }
        };
        let variables = scenario_vars
            .iter()
            .chain(&raw.variables)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(UserClass {
            name,
            weight: raw.weight.as_ref().map_or(1, |w| w.value),
            fixed_count: raw.fixed_count.as_ref().map(|f| f.value),
            host,
            http_version: self.class_version,
            wait,
            feeder,
            variables,
            headers,
            on_start,
            on_stop,
            tasks,
        })
    }

    fn wait(&self, raw: &RawWait, at: &Location) -> Result<WaitTime> {
        let set = [
            raw.between.is_some(),
            raw.constant.is_some(),
            raw.constant_pacing.is_some(),
            raw.constant_throughput.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(self.loc.at(at, "`wait` takes exactly one of between, constant, constant_pacing, constant_throughput"));
        }
        if let Some((lo, hi)) = &raw.between {
            let (l, h) = (self.duration(lo)?, self.duration(hi)?);
            if l > h {
                return Err(self.loc.at(
                    &hi.referenced,
                    "`between` upper bound is below the lower bound",
                ));
            }
            return Ok(WaitTime::Between(l, h));
        }
        if let Some(c) = &raw.constant {
            return Ok(WaitTime::Constant(self.duration(c)?));
        }
        if let Some(p) = &raw.constant_pacing {
            return Ok(WaitTime::ConstantPacing(self.duration(p)?));
        }
        let tp = raw.constant_throughput.as_ref().expect("one is set");
        if !(tp.value.is_finite() && tp.value > 0.0) {
            return Err(self.loc.at(
                &tp.referenced,
                "`constant_throughput` must be a positive number of tasks per second",
            ));
        }
        Ok(WaitTime::ConstantThroughput(tp.value))
    }

    fn feeder(&self, raw: &RawFeeder) -> Result<Feeder> {
        let file = &raw.file.value;
        let text = self.files.get(file).ok_or_else(|| {
            self.loc.at(
                &raw.file.referenced,
                format!("data file `{file}` was not loaded"),
            )
        })?;
        let at = |msg: String| {
            self.loc
                .at(&raw.file.referenced, format!("data file `{file}`: {msg}"))
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| at(e.to_string()))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        for col in &columns {
            if !is_identifier(col) {
                return Err(at(format!("column `{col}` is not a usable variable name")));
            }
        }
        let mut rows = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(|e| at(e.to_string().to_lowercase()))?;
            rows.push(rec.iter().map(str::to_owned).collect());
        }
        if rows.is_empty() {
            return Err(at("has a header but no rows".into()));
        }
        let order = match raw.order {
            Some(RawOrder::Random) => FeedOrder::Random,
            _ => FeedOrder::Sequential,
        };
        Ok(Feeder {
            file: file.clone(),
            columns,
            rows,
            order,
        })
    }

    fn threshold(
        &self,
        raw: &Sp<super::raw::RawThreshold>,
    ) -> Result<crate::thresholds::Threshold> {
        let mut t: crate::thresholds::Threshold =
            raw.value
                .threshold
                .parse()
                .map_err(|e: crate::thresholds::ThresholdError| {
                    self.loc.at(&raw.referenced, e.to_string())
                })?;
        t.abort_on_fail = raw.value.abort_on_fail;
        if let Some(d) = &raw.value.delay_abort_eval {
            t.delay_abort_eval = parse_duration(d).map_err(|e| self.loc.at(&raw.referenced, e))?;
        }
        Ok(t)
    }

    /// `on_failure: stop | continue`: whether a failure lets the task go on.
    pub(crate) fn on_failure(&self, v: &Sp<String>) -> Result<bool> {
        match v.value.as_str() {
            "stop" => Ok(false),
            "continue" => Ok(true),
            other => Err(self.loc.at(
                &v.referenced,
                format!("`on_failure` is `stop` or `continue`, not `{other}`"),
            )),
        }
    }

    pub(crate) fn http_version(&self, t: &Sp<Text>) -> Result<HttpVersion> {
        t.value
            .0
            .parse()
            .map_err(|e: String| self.loc.at(&t.referenced, e))
    }

    pub(crate) fn duration(&self, t: &Sp<Text>) -> Result<Duration> {
        parse_duration(&t.value.0).map_err(|e| self.loc.at(&t.referenced, e))
    }

    pub(crate) fn template(
        &mut self,
        s: &Sp<String>,
        known: &BTreeSet<String>,
    ) -> Result<Template> {
        self.templates
            .compile(&s.value, known)
            .map_err(|e| self.loc.at(&s.referenced, e))
    }

    pub(crate) fn text_template(
        &mut self,
        s: &Sp<Text>,
        known: &BTreeSet<String>,
    ) -> Result<Template> {
        self.templates
            .compile(&s.value.0, known)
            .map_err(|e| self.loc.at(&s.referenced, e))
    }

    pub(crate) fn headers(
        &mut self,
        map: &TextMap,
        known: &BTreeSet<String>,
    ) -> Result<Vec<(HeaderName, Template)>> {
        map.iter()
            .map(|(k, v)| {
                let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                    self.loc
                        .at(&v.referenced, format!("invalid header name `{k}`"))
                })?;
                Ok((name, self.text_template(v, known)?))
            })
            .collect()
    }

    pub(crate) fn stat_slot(&mut self, method: &str, name: &str) -> usize {
        let key = StatsKey::new(method, name);
        if let Some(i) = self.stat_index.get(&key) {
            return *i;
        }
        self.stat_keys.push(key.clone());
        self.stat_index.insert(key, self.stat_keys.len() - 1);
        self.stat_keys.len() - 1
    }
}

pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
