//! Locust's odds, flattened: a user's `tasks` entries (task functions, task
//! sets, `@task` methods) become one list of weighted tasks, an entry
//! picked by its weight among its siblings and then a task of it by its
//! weight within it, as Locust picks them.

use crate::model::Task;

/// One entry of a `tasks` list (or one `@task`): its weight among its
/// siblings, and the tasks it runs with their weights among themselves.
pub(super) struct Group {
    pub(super) outer: u64,
    pub(super) tasks: Vec<Task>,
}

impl Group {
    /// Each task an entry of its own.
    pub(super) fn each(tasks: Vec<Task>) -> Vec<Group> {
        tasks
            .into_iter()
            .map(|mut t| {
                let outer = t.weight;
                t.weight = 1;
                Group {
                    outer,
                    tasks: vec![t],
                }
            })
            .collect()
    }
}

/// The entries of one level as one list of weighted tasks with Locust's
/// odds: an entry is picked by its weight among its siblings, then a task
/// of it by its weight within it; so a task's weight is its entry's times
/// its own, times the inner totals of every other entry.
pub(super) fn flatten(groups: Vec<Group>) -> Vec<Task> {
    fn gcd(a: u128, b: u128) -> u128 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let sums: Vec<u128> = groups
        .iter()
        .map(|g| {
            g.tasks
                .iter()
                .map(|t| u128::from(t.weight))
                .sum::<u128>()
                .max(1)
        })
        .collect();
    let mut weighted: Vec<(Task, u128)> = Vec::new();
    for (i, g) in groups.into_iter().enumerate() {
        let others: u128 = sums
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, s)| *s)
            .fold(1u128, |a, b| a.saturating_mul(b));
        for t in g.tasks {
            let w = u128::from(g.outer)
                .saturating_mul(u128::from(t.weight))
                .saturating_mul(others);
            weighted.push((t, w));
        }
    }
    let common = weighted.iter().fold(0u128, |a, (_, w)| gcd(a, *w)).max(1);
    weighted
        .into_iter()
        .map(|(mut t, w)| {
            t.weight = u64::try_from(w / common)
                .unwrap_or(u64::from(u32::MAX))
                .min(u64::from(u32::MAX));
            t
        })
        .collect()
}
