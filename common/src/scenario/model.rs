//! The validated scenario the engine runs: user classes, their steps with
//! compiled templates, checks and extractors. Built only by `compile`, so
//! everything here has already been checked.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};
use regex::Regex;
use serde_json_path::JsonPath;

use super::template::{Template, Templates, ValueTemplate};
use crate::run::{HttpVersion, ProxyUrl, Target};
use crate::stats::StatsKey;

/// A scenario ready to run, shared by every virtual user of a worker.
#[derive(Debug)]
pub struct Scenario {
    /// `name:` in the file, or the file's stem.
    pub name: String,
    /// `description:` in the file.
    pub description: Option<String>,
    /// Default target host (`--host` wins).
    pub host: Option<Target>,
    /// The proxy of every request (`--proxy` wins, the environment's loses).
    pub proxy: Option<ProxyUrl>,
    /// The user classes, in file order.
    pub classes: Vec<UserClass>,
    /// Every template of the scenario.
    pub templates: Templates,
    /// The (method, name) of every request step; `RequestStep::stat` indexes it.
    pub stat_keys: Vec<StatsKey>,
    /// Pass/fail criteria (`thresholds:`).
    pub thresholds: Vec<crate::thresholds::Threshold>,
    /// Target users over time (`stages:`), instead of `-u`/`-r`.
    pub stages: Option<crate::shape::Stages>,
    /// The open model (`arrival_rate:`), instead of users.
    pub arrival: Option<crate::shape::ArrivalRate>,
    /// The scenario's Luau scripts, when it has any.
    pub program: Option<Arc<stampede_script::Program>>,
    /// A load shape as code (`shape:`): the script function the master calls
    /// each tick with the elapsed seconds.
    pub shape: Option<String>,
}

impl Scenario {
    /// Keeps only the tasks `filter` lets run, as Locust does: under
    /// `--tags`, untagged tasks (weighted tasks, a sequence's steps, a
    /// script's tasks) do not run, and a class left without a task leaves
    /// the run; a tagged step anywhere runs only when the filter keeps it.
    ///
    /// # Errors
    ///
    /// No class has a task left.
    pub fn select_tags(&mut self, filter: &crate::run::TagFilter) -> Result<(), String> {
        if filter.is_empty() {
            return Ok(());
        }
        self.classes.retain_mut(|class| {
            retain_steps(&mut class.on_start, filter, false);
            retain_steps(&mut class.on_stop, filter, false);
            match &mut class.tasks {
                Tasks::Weighted {
                    tasks,
                    total_weight,
                } => {
                    tasks.retain(|t| filter.keeps(&t.tags));
                    for t in tasks.iter_mut() {
                        retain_steps(&mut t.steps, filter, false);
                    }
                    *total_weight = tasks.iter().map(|t| t.weight).sum();
                    !tasks.is_empty()
                }
                Tasks::Sequence(steps) => {
                    retain_steps(steps, filter, true);
                    !steps.is_empty()
                }
                Tasks::Script { .. } => filter.keeps(&[]),
            }
        });
        if self.classes.is_empty() {
            return Err("with these tags, no user class has a task left to run".into());
        }
        Ok(())
    }

    /// The class with this name.
    pub fn class(&self, name: &str) -> Option<&UserClass> {
        self.classes.iter().find(|c| c.name == name)
    }
}

/// One kind of virtual user (Locust's `User` class).
#[derive(Debug)]
pub struct UserClass {
    /// Class name, unique in the scenario.
    pub name: String,
    /// Relative share of the weighted users.
    pub weight: u32,
    /// Exactly this many users cluster-wide, before any weighted ones.
    pub fixed_count: Option<u32>,
    /// Overrides the scenario host.
    pub host: Option<Target>,
    /// `http_version` of the class (or of `defaults:`); the run's otherwise.
    pub http_version: Option<HttpVersion>,
    /// Pause after each task.
    pub wait: WaitTime,
    /// Rows each user takes its variables from.
    pub feeder: Option<Arc<Feeder>>,
    /// Constants (scenario-level, then class-level) every user starts with.
    pub variables: Vec<(String, serde_json::Value)>,
    /// Session headers set at start (rendered once per user).
    pub headers: Vec<(HeaderName, Template)>,
    /// Steps run once when a user starts.
    pub on_start: Vec<Step>,
    /// Steps run once when a user stops gracefully.
    pub on_stop: Vec<Step>,
    /// What the user does in its loop.
    pub tasks: Tasks,
}

/// How a user picks its next task.
#[derive(Debug)]
pub enum Tasks {
    /// Locust's SequentialTaskSet: each step is a task, in order, then loop.
    Sequence(Vec<Step>),
    /// Locust's `@task(n)`: a random task by weight each time.
    Weighted {
        /// The tasks.
        tasks: Vec<Task>,
        /// Sum of the weights.
        total_weight: u32,
    },
    /// A scripted user (`script: user.luau`): the script's task functions,
    /// picked by weight each time.
    Script {
        /// The class's index among the program's scripted classes.
        script: usize,
        /// Task function names and weights.
        tasks: Vec<(String, u32)>,
        /// Sum of the weights.
        total_weight: u32,
    },
}

impl Tasks {
    /// Number of tasks in one pass (a sequence's steps, or the weighted tasks).
    pub fn len(&self) -> usize {
        match self {
            Tasks::Sequence(s) => s.len(),
            Tasks::Weighted { tasks, .. } => tasks.len(),
            Tasks::Script { tasks, .. } => tasks.len(),
        }
    }

    /// Whether there is no task (never true after validation).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Picks the weighted task for a random number in `0..total_weight`.
    pub fn pick_weighted(tasks: &[Task], mut roll: u32) -> &Task {
        for t in tasks {
            if roll < t.weight {
                return t;
            }
            roll -= t.weight;
        }
        &tasks[tasks.len() - 1]
    }
}

/// A weighted task: a few steps run together.
#[derive(Debug)]
pub struct Task {
    /// Optional label.
    pub name: Option<String>,
    /// Relative weight, at least 1.
    pub weight: u32,
    /// Its tags (`--tags`, `--exclude-tags`).
    pub tags: Vec<String>,
    /// The steps.
    pub steps: Vec<Step>,
}

/// One thing a user does.
#[derive(Debug)]
pub enum Step {
    /// An HTTP request, with its checks and extractions.
    Request(Box<RequestStep>),
    /// Sets session headers sent with every later request.
    SetHeaders(Vec<(HeaderName, Template)>),
    /// Sets user variables.
    Set(Vec<(String, ValueTemplate)>),
    /// Pauses.
    Sleep(Duration),
    /// `if:` a condition, `then:` some steps, `else:` others.
    If(Box<IfStep>),
    /// `loop:` steps while, until, a number of times or for each item.
    Loop(Box<LoopStep>),
    /// `group:` a named transaction with its own timing row.
    Group(Box<GroupStep>),
    /// `script:` Luau run with the user's variables.
    Script(ScriptStep),
    /// A step with `tags:` (kept or dropped by `--tags`/`--exclude-tags`).
    Tagged {
        /// Its tags.
        tags: Vec<String>,
        /// The step.
        step: Box<Step>,
    },
}

/// Drops the tagged steps `filter` does not keep, at any depth; with
/// `as_tasks` (a sequence's own steps, which are its tasks) untagged ones
/// too under `--tags`, as Locust drops untagged tasks.
fn retain_steps(steps: &mut Vec<Step>, filter: &crate::run::TagFilter, as_tasks: bool) {
    steps.retain(|s| match s {
        Step::Tagged { tags, .. } => filter.keeps(tags),
        _ => !as_tasks || filter.keeps(&[]),
    });
    for s in steps.iter_mut() {
        let mut s = s;
        if let Step::Tagged { step, .. } = s {
            s = step;
        }
        match s {
            Step::If(i) => {
                retain_steps(&mut i.then, filter, false);
                retain_steps(&mut i.otherwise, filter, false);
            }
            Step::Loop(l) => retain_steps(&mut l.steps, filter, false),
            Step::Group(g) => retain_steps(&mut g.steps, filter, false),
            _ => {}
        }
    }
}

/// A condition: a template expression judged truthy or not.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Compiled as `{% if (expr) %}1{% endif %}`.
    pub template: Template,
    /// The expression as written, for messages.
    pub source: String,
}

/// `if:` / `then:` / `else:`.
#[derive(Debug)]
pub struct IfStep {
    /// The condition.
    pub condition: Condition,
    /// Steps when it holds.
    pub then: Vec<Step>,
    /// Steps when it does not.
    pub otherwise: Vec<Step>,
}

/// `loop:` with `steps:`.
#[derive(Debug)]
pub struct LoopStep {
    /// When to go on.
    pub kind: LoopKind,
    /// Passes allowed; more fails the loop (a runaway guard).
    pub max: u32,
    /// The steps of one pass.
    pub steps: Vec<Step>,
}

/// What drives a loop.
#[derive(Debug)]
pub enum LoopKind {
    /// Checked before each pass.
    While(Condition),
    /// Checked after each pass; the loop ends when it holds.
    Until(Condition),
    /// Exactly this many passes.
    Times(u32),
    /// One pass per item of a list, the item in a variable.
    ForEach {
        /// Renders to the list.
        items: ValueTemplate,
        /// The variable each item is put in.
        var: String,
    },
}

/// `group:` with `steps:`.
#[derive(Debug)]
pub struct GroupStep {
    /// Index into `Scenario::stat_keys` (method `GROUP`).
    pub stat: usize,
    /// The steps.
    pub steps: Vec<Step>,
}

/// `script:` code, compiled into the scenario's program.
#[derive(Debug)]
pub struct ScriptStep {
    /// The step's index in the program.
    pub index: usize,
}

/// `retry:` on a request: send again while it fails.
#[derive(Debug, Clone)]
pub struct Retry {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// Pause before the second attempt.
    pub backoff: Duration,
    /// Each later pause is this many times the one before (1: constant).
    pub factor: f64,
    /// Also retry while this does not hold (checked after extraction).
    pub until: Option<Condition>,
}

impl Retry {
    /// The pause before attempt `n` (2 for the first retry).
    pub fn pause_before(&self, n: u32) -> Duration {
        let exp = n.saturating_sub(2).min(30) as i32;
        self.backoff
            .mul_f64(self.factor.powi(exp))
            .min(Duration::from_secs(300))
    }
}

/// An HTTP request step.
#[derive(Debug)]
pub struct RequestStep {
    /// Method.
    pub method: Method,
    /// A path relative to the host, or a full URL.
    pub target: Template,
    /// Index into `Scenario::stat_keys`.
    pub stat: usize,
    /// Query parameters appended to the URL.
    pub query: Vec<(String, Template)>,
    /// Request headers (win over session headers).
    pub headers: Vec<(HeaderName, Template)>,
    /// The body.
    pub body: Body,
    /// Per-request timeout (the scenario default otherwise).
    pub timeout: Option<Duration>,
    /// Follow redirects (Locust's `allow_redirects`).
    pub follow_redirects: bool,
    /// `http_version` of the step, its class or `defaults:`; the run's
    /// otherwise.
    pub http_version: Option<HttpVersion>,
    /// What makes the response a success.
    pub expect: Expect,
    /// Values taken from the response into user variables.
    pub extract: Vec<Extract>,
    /// Send again while the response fails its checks.
    pub retry: Option<Retry>,
    /// A failure is counted but the task goes on (Locust's way); by default
    /// a failed request ends its task.
    pub continue_on_failure: bool,
}

/// A request body.
#[derive(Debug)]
pub enum Body {
    /// No body.
    Empty,
    /// `json:`, sent as `application/json`.
    Json(ValueTemplate),
    /// `form:`, sent as `application/x-www-form-urlencoded`.
    Form(Vec<(String, Template)>),
    /// `body:`, sent as written.
    Raw(Template),
}

/// Checks on a response; the first unmet one is the failure message.
#[derive(Debug, Default)]
pub struct Expect {
    /// Allowed status codes; when empty, any status below 400 passes.
    pub status: Vec<u16>,
    /// Text the body must contain.
    pub body_contains: Option<Template>,
    /// JSONPath queries whose single result must equal a value.
    pub jsonpath: Vec<JsonCheck>,
}

/// `jsonpath: {"$.status": "paid"}`.
#[derive(Debug)]
pub struct JsonCheck {
    /// The query as written.
    pub source: String,
    /// The parsed query.
    pub path: JsonPath,
    /// The expected value.
    pub equals: ValueTemplate,
}

/// Takes a value from a response into a user variable.
#[derive(Debug)]
pub struct Extract {
    /// Variable to set.
    pub var: String,
    /// Where the value comes from.
    pub from: ExtractFrom,
    /// Used when nothing matched; without it, no match fails the request.
    pub default: Option<serde_json::Value>,
}

/// The source of an extracted value.
#[derive(Debug)]
pub enum ExtractFrom {
    /// The first JSONPath match, with its JSON type.
    JsonPath {
        /// As written.
        source: String,
        /// Parsed.
        path: JsonPath,
    },
    /// A response header's value.
    Header(HeaderName),
    /// The response's status code, as a number.
    Status,
    /// A regex capture group over the body.
    Regex {
        /// The expression.
        regex: Regex,
        /// Capture group (1 when the regex has groups, else 0).
        group: usize,
    },
}

/// Locust's four wait-time functions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaitTime {
    /// The same pause every time (`constant(0)` is Locust's default).
    Constant(Duration),
    /// Uniform between the two bounds.
    Between(Duration, Duration),
    /// A task starts at most once per period.
    ConstantPacing(Duration),
    /// At most this many tasks per second per user.
    ConstantThroughput(f64),
}

impl WaitTime {
    /// The pause after a task that took `task_time`.
    pub fn after(&self, task_time: Duration) -> Duration {
        match *self {
            WaitTime::Constant(d) => d,
            WaitTime::Between(lo, hi) => lo + (hi - lo).mul_f64(fastrand::f64()),
            WaitTime::ConstantPacing(p) => p.saturating_sub(task_time),
            WaitTime::ConstantThroughput(n) => {
                Duration::from_secs_f64(1.0 / n).saturating_sub(task_time)
            }
        }
    }
}

/// CSV rows, one per user.
#[derive(Debug)]
pub struct Feeder {
    /// File name as written.
    pub file: String,
    /// Header row: the variable names.
    pub columns: Vec<String>,
    /// Data rows, each as long as `columns`.
    pub rows: Vec<Vec<String>>,
    /// How users take rows.
    pub order: FeedOrder,
}

/// Which row a user takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedOrder {
    /// Row `user_index % rows`: users take distinct rows while there are enough.
    Sequential,
    /// A random row.
    Random,
}

impl Feeder {
    /// The row for the user with this cluster-unique index.
    pub fn row_for(&self, user_index: u64) -> &[String] {
        let i = match self.order {
            FeedOrder::Sequential => (user_index % self.rows.len() as u64) as usize,
            FeedOrder::Random => fastrand::usize(..self.rows.len()),
        };
        &self.rows[i]
    }
}
