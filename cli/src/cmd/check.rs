//! `stampede check`: validates a scenario without sending any load.

use std::process::ExitCode;

use stampede_common::scenario::Tasks;

use crate::args::CheckArgs;
use crate::config::load_scenario;
use crate::exit::Failure;

/// Compiles the scenario and lists its classes.
///
/// # Errors
///
/// A scenario error (exit 2, file:line:col).
pub fn check(args: &CheckArgs) -> Result<ExitCode, Failure> {
    let s = load_scenario(&args.file)?.scenario;
    println!(
        "{}: ok, {} user class(es), {} request name(s)",
        args.file,
        s.classes.len(),
        s.stat_keys.len()
    );
    for c in &s.classes {
        let share = match c.fixed_count {
            Some(n) => format!("fixed_count {n}"),
            None => format!("weight {}", c.weight),
        };
        let tasks = match &c.tasks {
            Tasks::Sequence(steps) => format!("sequence of {} steps", steps.len()),
            Tasks::Weighted { tasks, .. } => format!("{} weighted tasks", tasks.len()),
            Tasks::Script { tasks, .. } => {
                let names: Vec<String> = tasks.iter().map(|(n, w)| format!("{n}:{w}")).collect();
                format!("scripted tasks {}", names.join(", "))
            }
        };
        println!(
            "  {} ({share}): {} on_start step(s), {tasks}",
            c.name,
            c.on_start.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
