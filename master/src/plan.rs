//! Who runs which virtual user: the user count is split over the user classes
//! (`fixed_count` first, then by weight with largest remainders), each user gets
//! a cluster-unique index, and the indices are dealt over the workers so every
//! worker holds the classes' proportions and the ramp keeps them too.

use std::collections::{BTreeMap, BTreeSet};

use std::time::Duration;

use stampede_common::run::{ArrivalShare, UserSlot};
use stampede_common::scenario::Scenario;
use stampede_common::shape::ArrivalRate;
use stampede_common::shape::arrival::split_units;

/// Errors in what the user asked to run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// `--class` named a class the scenario does not have.
    #[error("unknown user class `{name}` (the scenario has: {known})")]
    UnknownClass {
        /// As given.
        name: String,
        /// The scenario's classes.
        known: String,
    },
}

/// Which classes take part (all when `only` is empty), as indices.
///
/// # Errors
///
/// A name that is not a class of the scenario.
pub fn select_classes(scenario: &Scenario, only: &[String]) -> Result<Vec<usize>, PlanError> {
    if only.is_empty() {
        return Ok((0..scenario.classes.len()).collect());
    }
    only.iter()
        .map(|name| {
            scenario
                .classes
                .iter()
                .position(|c| &c.name == name)
                .ok_or_else(|| PlanError::UnknownClass {
                    name: name.clone(),
                    known: scenario
                        .classes
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

/// The class of each user index `0..users`, in spawn order: fixed-count users
/// first (as Locust does), then the weighted classes interleaved smoothly so
/// any prefix of the ramp has the weights' proportions.
pub fn assign_classes(scenario: &Scenario, selected: &[usize], users: u64) -> Vec<usize> {
    let mut out = Vec::with_capacity(users as usize);
    for &c in selected {
        if let Some(n) = scenario.classes[c].fixed_count {
            let take = u64::from(n).min(users - out.len() as u64);
            out.extend(std::iter::repeat_n(c, take as usize));
        }
    }
    let weighted: Vec<(usize, i64)> = selected
        .iter()
        .filter(|c| scenario.classes[**c].fixed_count.is_none() && scenario.classes[**c].weight > 0)
        .map(|c| (*c, i64::from(scenario.classes[*c].weight)))
        .collect();
    if weighted.is_empty() {
        return out;
    }
    // Smooth weighted round-robin (as nginx balances upstreams).
    let total: i64 = weighted.iter().map(|w| w.1).sum();
    let mut current = vec![0i64; weighted.len()];
    while (out.len() as u64) < users {
        for (cur, (_, w)) in current.iter_mut().zip(&weighted) {
            *cur += w;
        }
        let best = (0..weighted.len())
            .max_by_key(|i| (current[*i], std::cmp::Reverse(*i)))
            .expect("non-empty");
        current[best] -= total;
        out.push(weighted[best].0);
    }
    out
}

/// Deals users over `workers` workers: user `i` goes to worker `i % workers`,
/// so the split is even (sizes differ by at most one) and proportional.
pub fn split(classes_by_index: &[usize], workers: usize) -> Vec<Vec<UserSlot>> {
    let n = workers.max(1);
    let mut out = vec![Vec::new(); n];
    for (i, class) in classes_by_index.iter().enumerate() {
        out[i % n].push(UserSlot {
            index: i as u64,
            class: *class,
        });
    }
    out
}

/// Each of `workers` workers' share of an open-model run, `elapsed` into its
/// shape: every rate and `max_users` split exactly (the shares add up to the
/// whole; remainders go to the first workers), each with a fresh range of
/// cluster-unique user indices taken from `next_index`.
pub fn arrival_shares(
    arrival: &ArrivalRate,
    scenario: &Scenario,
    selected: &[usize],
    workers: usize,
    elapsed: Duration,
    next_index: &mut u64,
) -> Vec<ArrivalShare> {
    let n = workers.max(1);
    let classes: Vec<(usize, u32)> = selected
        .iter()
        .map(|c| (*c, scenario.classes[*c].weight))
        .collect();
    let maxes = split_units(arrival.max_users, &vec![1; n]);
    arrival
        .shape
        .split(n)
        .into_iter()
        .zip(maxes)
        .map(|(shape, max_users)| {
            let first_index = *next_index;
            *next_index += max_users;
            ArrivalShare {
                elapsed,
                shape,
                max_users,
                first_index,
                classes: classes.clone(),
            }
        })
        .collect()
}

/// Moves as few users as possible so every live worker holds an even share of
/// `all` (sizes differ by at most one): users of workers that left, and users
/// not yet placed, fill the workers below their share; workers above their
/// share give up their highest indices. Returns the assignment by worker.
pub fn rebalance(
    current: &BTreeMap<String, Vec<UserSlot>>,
    all: &[UserSlot],
    live: &[String],
) -> BTreeMap<String, Vec<UserSlot>> {
    let wanted: BTreeSet<UserSlot> = all.iter().copied().collect();
    let mut out: BTreeMap<String, Vec<UserSlot>> =
        live.iter().map(|w| (w.clone(), Vec::new())).collect();
    let mut placed = BTreeSet::new();
    for (w, slots) in current {
        if let Some(mine) = out.get_mut(w) {
            for s in slots {
                if wanted.contains(s) && placed.insert(*s) {
                    mine.push(*s);
                }
            }
        }
    }
    if out.is_empty() {
        return out;
    }
    let mut pool: Vec<UserSlot> = all
        .iter()
        .filter(|s| !placed.contains(s))
        .copied()
        .collect();
    // Fullest workers keep the larger shares, so fewer users move.
    let mut order: Vec<String> = out.keys().cloned().collect();
    order.sort_by(|a, b| out[b].len().cmp(&out[a].len()).then_with(|| a.cmp(b)));
    let (base, extra) = (all.len() / order.len(), all.len() % order.len());
    let share: BTreeMap<&String, usize> = order
        .iter()
        .enumerate()
        .map(|(i, w)| (w, base + usize::from(i < extra)))
        .collect();
    for (w, slots) in out.iter_mut() {
        slots.sort();
        while slots.len() > share[w] {
            pool.push(slots.pop().expect("non-empty"));
        }
    }
    pool.sort();
    pool.reverse();
    for (w, slots) in out.iter_mut() {
        while slots.len() < share[w] {
            slots.push(pool.pop().expect("shares add up to all users"));
        }
        slots.sort();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_common::scenario::ScenarioSource;

    fn scenario() -> Scenario {
        let yaml = r#"
users:
  - name: A
    weight: 3
    sequence: [{get: /a}]
  - name: B
    sequence: [{get: /b}]
  - name: Admin
    fixed_count: 2
    sequence: [{get: /admin}]
"#;
        ScenarioSource::from_text("t.yaml", yaml).compile().unwrap()
    }

    #[test]
    fn fixed_count_first_then_weights() {
        let s = scenario();
        let all = select_classes(&s, &[]).unwrap();
        let classes = assign_classes(&s, &all, 10);
        assert_eq!(&classes[..2], &[2, 2]);
        let a = classes.iter().filter(|c| **c == 0).count();
        let b = classes.iter().filter(|c| **c == 1).count();
        assert_eq!((a, b), (6, 2));
        // Any prefix of the weighted part keeps the 3:1 proportion within one user.
        let weighted = &classes[2..];
        for n in 1..=weighted.len() {
            let a = weighted[..n].iter().filter(|c| **c == 0).count() as f64;
            assert!((a - n as f64 * 0.75).abs() <= 1.0, "prefix {n}");
        }
    }

    #[test]
    fn fixed_count_is_capped_by_users() {
        let s = scenario();
        let all = select_classes(&s, &[]).unwrap();
        assert_eq!(assign_classes(&s, &all, 1), vec![2]);
    }

    #[test]
    fn split_is_even_and_indices_unique() {
        let s = scenario();
        let classes = assign_classes(&s, &select_classes(&s, &[]).unwrap(), 300);
        let parts = split(&classes, 3);
        assert!(parts.iter().all(|p| p.len() == 100));
        let mut idx: Vec<u64> = parts.iter().flatten().map(|u| u.index).collect();
        idx.sort();
        assert_eq!(idx, (0..300).collect::<Vec<_>>());
        let parts = split(&classes, 4);
        assert!(parts.iter().all(|p| p.len() == 75));
        let parts = split(&classes[..10], 3);
        assert_eq!(
            parts.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4, 3, 3]
        );
    }

    fn assignment(parts: &[Vec<UserSlot>]) -> BTreeMap<String, Vec<UserSlot>> {
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("w{i}"), p.clone()))
            .collect()
    }

    #[test]
    fn rebalance_moves_the_fewest_users() {
        let s = scenario();
        let classes = assign_classes(&s, &select_classes(&s, &[]).unwrap(), 300);
        let all: Vec<UserSlot> = split(&classes, 1).remove(0);
        let three = assignment(&split(&classes, 3));
        let live4: Vec<String> = (0..4).map(|i| format!("w{i}")).collect();
        let four = rebalance(&three, &all, &live4);
        assert!(four.values().all(|v| v.len() == 75));
        let kept: usize = (0..3)
            .map(|i| {
                let w = format!("w{i}");
                four[&w].iter().filter(|s| three[&w].contains(s)).count()
            })
            .sum();
        assert_eq!(kept, 225, "only the 75 users the new worker takes move");
        // One leaves: the others take its users.
        let live3: Vec<String> = vec!["w0".into(), "w2".into(), "w3".into()];
        let after = rebalance(&four, &all, &live3);
        assert!(after.values().all(|v| v.len() == 100));
        let mut idx: Vec<u64> = after.values().flatten().map(|u| u.index).collect();
        idx.sort();
        assert_eq!(idx, (0..300).collect::<Vec<_>>());
        // Fewer users: the extra ones go, the rest stay put.
        let fewer = rebalance(&after, &all[..30], &live3);
        assert!(fewer.values().all(|v| v.len() == 10));
        assert!(rebalance(&after, &all, &[]).is_empty());
    }

    #[test]
    fn class_filter() {
        let s = scenario();
        assert_eq!(select_classes(&s, &["B".into()]).unwrap(), vec![1]);
        let e = select_classes(&s, &["C".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown user class `C` (the scenario has: A, B, Admin)"
        );
    }
}
