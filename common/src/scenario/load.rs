//! Compiles the scenario's load shape: `stages:` (target users over time) or
//! `arrival_rate:` (the open model), each error pointing at file:line:col.

use super::compile::Compiler;
use super::error::ScenarioError;
use super::raw::{RawArrival, RawStage, Sp, Text};
use crate::shape::{ArrivalRate, ArrivalShape, Rate, RateStage, Stage, Stages};

type Result<T> = std::result::Result<T, ScenarioError>;

impl Compiler<'_> {
    /// The scenario's `stages:` into [`Stages`].
    pub(crate) fn load_stages(
        &self,
        raw: Option<&Sp<Vec<Sp<RawStage>>>>,
    ) -> Result<Option<Stages>> {
        stages(self, raw)
    }

    /// The scenario's `arrival_rate:` into [`ArrivalRate`].
    pub(crate) fn load_arrival(&self, raw: Option<&Sp<RawArrival>>) -> Result<Option<ArrivalRate>> {
        arrival(self, raw)
    }
}

/// `stages:` into [`Stages`].
fn stages(c: &Compiler<'_>, raw: Option<&Sp<Vec<Sp<RawStage>>>>) -> Result<Option<Stages>> {
    let Some(list) = raw else { return Ok(None) };
    let stages = each_stage(
        c,
        list,
        |st| &st.duration,
        |duration, st| {
            Ok(Stage {
                duration,
                target: st.target,
            })
        },
    )?;
    Stages::new(stages)
        .map(Some)
        .map_err(|e| c.loc.at(&list.referenced, format!("`stages`: {e}")))
}

/// Builds each stage of a list from its (non-zero) duration and the rest.
fn each_stage<R, S>(
    c: &Compiler<'_>,
    list: &Sp<Vec<Sp<R>>>,
    duration_of: impl Fn(&R) -> &Sp<Text>,
    build: impl Fn(std::time::Duration, &R) -> Result<S>,
) -> Result<Vec<S>> {
    list.value
        .iter()
        .map(|st| {
            let d = duration_of(&st.value);
            let duration = c.duration(d)?;
            if duration.is_zero() {
                return Err(c.loc.at(&d.referenced, "a stage lasts zero time"));
            }
            build(duration, &st.value)
        })
        .collect()
}

fn rate(c: &Compiler<'_>, t: &Sp<Text>) -> Result<Rate> {
    t.value
        .0
        .parse()
        .map_err(|e: String| c.loc.at(&t.referenced, e))
}

/// `arrival_rate:` into [`ArrivalRate`]: a constant `rate` for `duration`, or
/// `stages` from `start_rate` (0 by default); `max_users` is required.
fn arrival(c: &Compiler<'_>, raw: Option<&Sp<RawArrival>>) -> Result<Option<ArrivalRate>> {
    let Some(a) = raw else { return Ok(None) };
    let at = &a.referenced;
    let r = &a.value;
    let shape = match (&r.rate, &r.stages) {
        (Some(_), Some(_)) => {
            return Err(c.loc.at(
                at,
                "`arrival_rate` takes either `rate` and `duration` or `stages`, not both",
            ));
        }
        (None, None) => {
            return Err(c.loc.at(
                at,
                "`arrival_rate` needs `rate` and `duration` (e.g. rate: 500/s, duration: 5m) or `stages`",
            ));
        }
        (Some(rt), None) => {
            if let Some(s) = &r.start_rate {
                return Err(c.loc.at(
                    &s.referenced,
                    "`start_rate` goes with `stages`, not with `rate`",
                ));
            }
            let Some(d) = &r.duration else {
                return Err(c.loc.at(
                    at,
                    "`arrival_rate` with `rate` needs a `duration` (e.g. 5m)",
                ));
            };
            let duration = c.duration(d)?;
            ArrivalShape::constant(rate(c, rt)?, duration)
                .map_err(|e| c.loc.at(&d.referenced, format!("`duration`: {e}")))?
        }
        (None, Some(list)) => {
            if let Some(d) = &r.duration {
                return Err(c.loc.at(
                    &d.referenced,
                    "`duration` goes with `rate`; stages have their own durations",
                ));
            }
            let start = r.start_rate.as_ref().map(|s| rate(c, s)).transpose()?;
            let stages = each_stage(
                c,
                list,
                |st| &st.duration,
                |duration, st| {
                    Ok(RateStage {
                        duration,
                        target: rate(c, &st.target)?,
                    })
                },
            )?;
            ArrivalShape::new(start.unwrap_or_default(), stages)
                .map_err(|e| c.loc.at(&list.referenced, format!("`stages`: {e}")))?
        }
    };
    let max_users = match &r.max_users {
        None => {
            return Err(c.loc.at(
                at,
                "`arrival_rate` needs `max_users`: the most virtual users it may start",
            ));
        }
        Some(m) if m.value == 0 => {
            return Err(c.loc.at(&m.referenced, "`max_users` must be at least 1"));
        }
        Some(m) => m.value,
    };
    if shape.peak() == Rate::default() {
        return Err(c.loc.at(
            at,
            "`arrival_rate` never starts an iteration (every rate is 0)",
        ));
    }
    Ok(Some(ArrivalRate { shape, max_users }))
}
