//! Templating of paths, headers and bodies with minijinja: the shared
//! environment with our functions (`random_int`, `random_choice`, `uuid`,
//! `now`, ...), compile-time checks for undefined variables and unknown
//! functions, and JSON values whose single-expression strings keep their
//! native type (`"{{ random_int(1, 5) }}"` renders the number 5, not "5").

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use minijinja::value::Value;
use minijinja::{Environment, Error as MjError, ErrorKind, UndefinedBehavior};

/// Names the engine defines for every virtual user.
pub const BUILTIN_VARIABLES: &[&str] = &["user_index", "user_class", "iteration"];

/// Functions available in every template.
pub const FUNCTIONS: &[&str] = &[
    "random_int",
    "random_float",
    "random_choice",
    "random_string",
    "uuid",
    "now",
    "timestamp",
    "timestamp_ms",
];

/// A string that may hold template expressions; literal strings skip the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// No `{{` or `{%`: used as is.
    Literal(String),
    /// Compiled into the scenario's environment under `id`.
    Compiled {
        /// Name of the template in the environment.
        id: String,
        /// The text as written, for names in stats and messages.
        source: String,
    },
}

impl Template {
    /// The text as written in the scenario.
    pub fn source(&self) -> &str {
        match self {
            Template::Literal(s) => s,
            Template::Compiled { source, .. } => source,
        }
    }
}

/// A JSON value to send: literal parts are kept as they are, strings with
/// templates are rendered, and a string that is exactly one `{{ expr }}` keeps
/// the expression's native JSON type.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueTemplate {
    /// Contains no template anywhere below it.
    Literal(serde_json::Value),
    /// A string with templates in it; renders to a JSON string.
    Text(Template),
    /// Exactly one expression; renders to the expression's JSON value.
    Native(Template),
    /// An array with templates somewhere inside.
    Array(Vec<ValueTemplate>),
    /// An object with templates somewhere inside.
    Object(Vec<(String, ValueTemplate)>),
}

/// An error from rendering at run time (a failed request, not a crash).
#[derive(Debug, thiserror::Error)]
#[error("template error: {0}")]
pub struct RenderError(String);

impl From<MjError> for RenderError {
    fn from(e: MjError) -> Self {
        if e.kind() == minijinja::ErrorKind::OutOfFuel {
            return RenderError(format!("the template ran past {RENDER_FUEL} steps"));
        }
        let mut msg = e.kind().to_string();
        if let Some(detail) = e.detail() {
            msg = format!("{msg}: {detail}");
        }
        RenderError(msg.to_lowercase())
    }
}

/// Steps of the template engine one render may take: far beyond any
/// request's template (a loop over a thousand items takes some ten thousand).
pub const RENDER_FUEL: u64 = 1_000_000;

/// The compiled templates of one scenario, shared by all its users.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    next_id: usize,
    /// Functions of the scenario's scripts, callable like ours.
    script_functions: BTreeSet<String>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// An environment with our functions, strict about undefined variables.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        // A template that loops for ever fails its render instead of
        // holding its user (and the worker's thread) for good.
        env.set_fuel(Some(RENDER_FUEL));
        env.add_function("random_int", random_int);
        env.add_function("random_float", random_float);
        env.add_function("random_choice", random_choice);
        env.add_function("random_string", random_string);
        env.add_function("uuid", || uuid::Uuid::new_v4().to_string());
        env.add_function("now", now_rfc3339);
        env.add_function("timestamp", || unix_now().as_secs_f64());
        env.add_function("timestamp_ms", || unix_now().as_millis() as i64);
        Self {
            env,
            next_id: 0,
            script_functions: BTreeSet::new(),
        }
    }

    /// Names of script functions templates may call; they are bound to the
    /// program with [`Templates::bind_program`] once it is built.
    pub fn declare_script_functions(&mut self, names: &BTreeSet<String>) {
        self.script_functions = names.clone();
    }

    /// Makes the program's functions callable from templates: arguments and
    /// results go through JSON values; an error fails the render.
    pub fn bind_program(&mut self, program: &std::sync::Arc<stampede_script::Program>) {
        for name in program.functions() {
            let (p, n) = (program.clone(), name.clone());
            self.env.add_function(
                name.clone(),
                move |args: minijinja::value::Rest<Value>| -> Result<Value, MjError> {
                    p.call(&n, &args.0)
                        .map(|v| Value::from_serialize(&v))
                        .map_err(|e| invalid(format!("{n}: {e}")))
                },
            );
        }
    }

    /// Compiles a condition: a template expression, with or without `{{ }}`.
    ///
    /// # Errors
    ///
    /// As [`Templates::compile`].
    pub fn compile_condition(
        &mut self,
        source: &str,
        known: &BTreeSet<String>,
    ) -> Result<Template, String> {
        let expr = single_expression(source).unwrap_or(source.trim());
        if expr.is_empty() {
            return Err("the condition is empty".into());
        }
        // Parsed alone first, so that a syntax error reads as the expression's.
        self.env
            .compile_expression(expr)
            .map_err(|e| syntax_message(&e))?;
        self.compile_as(format!("{{% if ({expr}) %}}1{{% endif %}}"), source, known)
    }

    /// Whether a condition holds for the user's variables.
    ///
    /// # Errors
    ///
    /// As [`Templates::render`].
    pub fn holds(&self, t: &Template, ctx: &Value) -> Result<bool, RenderError> {
        Ok(self.render(t, ctx)? == "1")
    }

    /// Compiles `source`; names it uses must be in `known` or be functions.
    ///
    /// # Errors
    ///
    /// A syntax error, an unknown function or an undefined variable, as a
    /// lowercase message without location (the caller adds it).
    pub fn compile(&mut self, source: &str, known: &BTreeSet<String>) -> Result<Template, String> {
        if !has_template(source) {
            return Ok(Template::Literal(source.to_owned()));
        }
        self.compile_as(source.to_owned(), source, known)
    }

    fn compile_as(
        &mut self,
        engine_source: String,
        source: &str,
        known: &BTreeSet<String>,
    ) -> Result<Template, String> {
        let id = format!("t{}", self.next_id);
        self.next_id += 1;
        self.env
            .add_template_owned(id.clone(), engine_source)
            .map_err(|e| syntax_message(&e))?;
        let tmpl = self.env.get_template(&id).map_err(|e| syntax_message(&e))?;
        let mut unknown: Vec<String> = tmpl
            .undeclared_variables(false)
            .into_iter()
            .filter(|name| {
                !known.contains(name)
                    && !FUNCTIONS.contains(&name.as_str())
                    && !self.script_functions.contains(name)
            })
            .collect();
        unknown.sort();
        if let Some(name) = unknown.first() {
            let called = source.contains(&format!("{name}("));
            return Err(if called {
                let mut all: Vec<&str> = FUNCTIONS.to_vec();
                all.extend(self.script_functions.iter().map(String::as_str));
                format!(
                    "unknown template function `{name}` (known: {})",
                    all.join(", ")
                )
            } else {
                format!("undefined variable `{name}`")
            });
        }
        Ok(Template::Compiled {
            id,
            source: source.to_owned(),
        })
    }

    /// Compiles a JSON value (a request body, a `set` value, an expected value).
    ///
    /// # Errors
    ///
    /// As [`Templates::compile`].
    pub fn compile_value(
        &mut self,
        value: &serde_json::Value,
        known: &BTreeSet<String>,
    ) -> Result<ValueTemplate, String> {
        use serde_json::Value as J;
        if !value_has_template(value) {
            return Ok(ValueTemplate::Literal(value.clone()));
        }
        Ok(match value {
            J::String(s) => match single_expression(s) {
                Some(expr) => {
                    let engine = format!("{{{{ ({expr}) | tojson }}}}");
                    ValueTemplate::Native(self.compile_as(engine, s, known)?)
                }
                None => ValueTemplate::Text(self.compile(s, known)?),
            },
            J::Array(items) => ValueTemplate::Array(
                items
                    .iter()
                    .map(|v| self.compile_value(v, known))
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(map) => ValueTemplate::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.compile_value(v, known)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => ValueTemplate::Literal(other.clone()),
        })
    }

    /// Renders a template with the user's variables.
    ///
    /// # Errors
    ///
    /// A run-time template error (for example an undefined variable that a
    /// failed extraction left unset).
    pub fn render<'a>(&self, t: &'a Template, ctx: &Value) -> Result<Cow<'a, str>, RenderError> {
        match t {
            Template::Literal(s) => Ok(Cow::Borrowed(s)),
            Template::Compiled { id, .. } => {
                Ok(Cow::Owned(self.env.get_template(id)?.render(ctx)?))
            }
        }
    }

    /// Renders a JSON value template.
    ///
    /// # Errors
    ///
    /// As [`Templates::render`].
    pub fn render_value(
        &self,
        t: &ValueTemplate,
        ctx: &Value,
    ) -> Result<serde_json::Value, RenderError> {
        Ok(match t {
            ValueTemplate::Literal(v) => v.clone(),
            ValueTemplate::Text(t) => serde_json::Value::String(self.render(t, ctx)?.into_owned()),
            ValueTemplate::Native(t) => {
                let text = self.render(t, ctx)?;
                serde_json::from_str(&text).map_err(|e| RenderError(format!("not json: {e}")))?
            }
            ValueTemplate::Array(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|v| self.render_value(v, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            ValueTemplate::Object(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_value(v, ctx)?)))
                    .collect::<Result<_, RenderError>>()?,
            ),
        })
    }
}

/// Whether a string needs the template engine.
pub fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

fn value_has_template(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => has_template(s),
        serde_json::Value::Array(a) => a.iter().any(value_has_template),
        serde_json::Value::Object(m) => m.values().any(value_has_template),
        _ => false,
    }
}

/// `"{{ expr }}"` with nothing around it and one expression inside.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !s.contains("{%")).then(|| inner.trim())
}

fn syntax_message(e: &MjError) -> String {
    let mut msg = format!("template {}", e.kind()).to_lowercase();
    if let Some(detail) = e.detail() {
        msg.push_str(": ");
        msg.push_str(detail);
    }
    msg
}

fn unix_now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn invalid(msg: String) -> MjError {
    MjError::new(ErrorKind::InvalidOperation, msg)
}

fn random_int(a: i64, b: i64) -> Result<i64, MjError> {
    if a > b {
        return Err(invalid(format!(
            "random_int({a}, {b}): the low bound is above the high one"
        )));
    }
    Ok(fastrand::i64(a..=b))
}

fn random_float(a: f64, b: f64) -> Result<f64, MjError> {
    if a.partial_cmp(&b) == Some(std::cmp::Ordering::Greater) || !a.is_finite() || !b.is_finite() {
        return Err(invalid(format!("random_float({a}, {b}): bad bounds")));
    }
    Ok(a + fastrand::f64() * (b - a))
}

fn random_choice(items: Value) -> Result<Value, MjError> {
    let len = items
        .len()
        .ok_or_else(|| invalid("random_choice takes a list".into()))?;
    if len == 0 {
        return Err(invalid("random_choice of an empty list".into()));
    }
    items.get_item(&Value::from(fastrand::usize(..len)))
}

fn random_string(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len.min(1 << 16))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn literal_strings_skip_the_engine() {
        let mut t = Templates::new();
        assert_eq!(
            t.compile("/api/products/", &known(&[])).unwrap(),
            Template::Literal("/api/products/".into())
        );
    }

    #[test]
    fn renders_variables_and_functions() {
        let mut t = Templates::new();
        let tpl = t
            .compile(
                "/u/{{ user_index }}/{{ random_int(3, 3) }}",
                &known(&["user_index"]),
            )
            .unwrap();
        let ctx = Value::from_serialize(serde_json::json!({"user_index": 7}));
        assert_eq!(t.render(&tpl, &ctx).unwrap(), "/u/7/3");
    }

    #[test]
    fn single_expression_keeps_native_type() {
        let mut t = Templates::new();
        let v = serde_json::json!({"q": "{{ random_int(5, 5) }}", "s": "n={{ 1 + 1 }}", "l": ["{{ [1,2] }}"], "k": true});
        let tpl = t.compile_value(&v, &known(&[])).unwrap();
        let out = t.render_value(&tpl, &Value::from(())).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"q": 5, "s": "n=2", "l": [[1, 2]], "k": true})
        );
    }

    #[test]
    fn undefined_variable_and_unknown_function_are_named() {
        let mut t = Templates::new();
        let e = t
            .compile("Bearer {{ tokn }}", &known(&["token"]))
            .unwrap_err();
        assert_eq!(e, "undefined variable `tokn`");
        let e = t
            .compile("{{ random_integer(1, 2) }}", &known(&[]))
            .unwrap_err();
        assert!(
            e.starts_with("unknown template function `random_integer`"),
            "{e}"
        );
        let e = t.compile("{{ 1 + }}", &known(&[])).unwrap_err();
        assert!(e.starts_with("template syntax error"), "{e}");
    }

    #[test]
    fn runtime_errors_are_errors_not_panics() {
        let mut t = Templates::new();
        let tpl = t.compile("{{ random_int(5, 1) }}", &known(&[])).unwrap();
        assert!(t.render(&tpl, &Value::from(())).is_err());
        let tpl = t.compile("{{ random_choice([]) }}", &known(&[])).unwrap();
        assert!(t.render(&tpl, &Value::from(())).is_err());
    }
}
