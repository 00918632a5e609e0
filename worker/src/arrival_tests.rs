//! The open model's dispatch on one worker, driven by hand with a clock.

use std::time::Duration;

use super::*;

fn share(shape: &str, max_users: u64, classes: &[(usize, u32)]) -> ArrivalShare {
    ArrivalShare {
        elapsed: Duration::ZERO,
        shape: shape.parse().unwrap(),
        max_users,
        first_index: 100,
        classes: classes.to_vec(),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn slot(index: u64, class: usize) -> UserSlot {
    UserSlot { index, class }
}

#[test]
fn idle_users_first_then_new_ones_then_drops() {
    let t0 = Instant::now();
    let mut acts = Vec::new();
    // 10/s from the start (a 1 ms ramp from 0 to 10/s, then 10/s).
    let mut a = Arrival::new(share("1ms:10/s,2s:10/s", 2, &[(0, 1)]), t0, None, &mut acts);
    assert!(acts.is_empty());
    assert_eq!(a.next_due(), Some(t0));
    a.due(t0, &mut acts);
    assert_eq!(
        acts,
        vec![Action::Start {
            slot: slot(100, 0),
            intended: t0
        }]
    );
    acts.clear();
    let second = a.next_due().unwrap();
    assert!(second > t0 && second <= t0 + ms(101), "{:?}", second - t0);
    a.due(t0 + ms(150), &mut acts);
    assert!(matches!(acts[..], [Action::Start { slot: s, .. }] if s == slot(101, 0)));
    acts.clear();
    // Both users busy and the class at its max: the next one is dropped.
    a.due(t0 + ms(250), &mut acts);
    assert_eq!(acts, vec![Action::Drop]);
    acts.clear();
    a.idle(slot(100, 0), &mut acts);
    assert!(acts.is_empty());
    a.due(t0 + ms(350), &mut acts);
    assert!(
        matches!(acts[..], [Action::Run { slot: s, intended }] if s == slot(100, 0) && intended <= t0 + ms(350))
    );
    assert_eq!(a.alive(), 2);
}

#[test]
fn a_late_tick_hands_out_every_missed_iteration_with_its_own_time() {
    let t0 = Instant::now();
    let mut acts = Vec::new();
    let mut a = Arrival::new(share("1s:100/s", 1000, &[(0, 1)]), t0, None, &mut acts);
    a.due(t0 + ms(95), &mut acts);
    // Iterations 0..=9 were due by 95 ms (times 0, ~10, ..., ~90 ms on the 0->100/s... here
    // a constant-from-0 ramp: t = sqrt(2k/100)), each started with its intended time.
    let times: Vec<Duration> = acts
        .iter()
        .map(|x| match x {
            Action::Start { intended, .. } => *intended - t0,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    assert!(times.iter().all(|t| *t <= ms(95)));
    let n = times.len() as f64;
    // 0 -> 100/s over 1 s: k iterations by t = 50 t².
    assert!((n - (50.0 * 0.095f64 * 0.095).ceil()).abs() <= 1.0, "{n}");
}

#[test]
fn classes_share_the_rate_and_users_by_weight() {
    let t0 = Instant::now();
    let mut acts = Vec::new();
    let mut a = Arrival::new(
        share("1ms:40/s,10s:40/s", 8, &[(0, 3), (2, 1)]),
        t0,
        None,
        &mut acts,
    );
    a.due(t0 + Duration::from_secs(1), &mut acts);
    let class = |c: usize| {
        acts.iter()
            .filter(|x| matches!(x, Action::Start { slot, .. } if slot.class == c))
            .count()
    };
    // 30/s and 10/s: the first second starts 30 and 10 (+1 each at t=0),
    // capped by the users' split 6 and 2.
    assert_eq!(class(0), 6);
    assert_eq!(class(2), 2);
    let drops = acts.iter().filter(|x| **x == Action::Drop).count();
    assert!(drops >= 30, "{drops}");
    let mut indices: Vec<u64> = acts
        .iter()
        .filter_map(|x| match x {
            Action::Start { slot, .. } => Some(slot.index),
            _ => None,
        })
        .collect();
    indices.sort_unstable();
    assert_eq!(indices, (100..108).collect::<Vec<_>>());
}

#[test]
fn a_new_share_keeps_users_retires_extras_and_starts_mid_shape() {
    let t0 = Instant::now();
    let mut acts = Vec::new();
    let mut a = Arrival::new(
        share("1ms:100/s,10s:100/s", 4, &[(0, 1)]),
        t0,
        None,
        &mut acts,
    );
    a.due(t0 + ms(50), &mut acts);
    let started: Vec<UserSlot> = acts
        .iter()
        .filter_map(|x| match x {
            Action::Start { slot, .. } => Some(*slot),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 4);
    for s in &started {
        a.idle(*s, &mut Vec::new());
    }
    acts.clear();
    // Half the rate and one user from 5 s into the shape: three idle users retire.
    let t1 = t0 + ms(60);
    let mut next = share("1ms:50/s,10s:50/s", 1, &[(0, 1)]);
    next.elapsed = Duration::from_secs(5);
    next.first_index = 500;
    let mut b = Arrival::new(next, t1, Some(a), &mut acts);
    assert_eq!(
        acts.iter()
            .filter(|x| matches!(x, Action::Retire(_)))
            .count(),
        3
    );
    assert_eq!(b.alive(), 1);
    // The schedule picks up 5 s into the shape: the next iteration is due
    // within one period (20 ms at 50/s).
    let next_due = b.next_due().unwrap();
    assert!(
        next_due >= t1 && next_due <= t1 + ms(20),
        "{:?}",
        next_due - t1
    );
    acts.clear();
    b.due(next_due, &mut acts);
    assert!(matches!(acts[..], [Action::Run { .. }]), "{acts:?}");
    // A class that is gone: its users retire when they come back.
    let mut acts2 = Vec::new();
    let mut c = Arrival::new(share("1s:10/s", 4, &[(1, 1)]), t1, Some(b), &mut acts2);
    assert!(
        acts2.is_empty(),
        "the busy user is not retired yet: {acts2:?}"
    );
    c.idle(started[3], &mut acts2);
    assert_eq!(acts2, vec![Action::Retire(started[3])]);
}

#[test]
fn the_schedule_ends_with_the_shape() {
    let t0 = Instant::now();
    let mut acts = Vec::new();
    let mut a = Arrival::new(
        share("1ms:1000/s,1s:1000/s", 10_000, &[(0, 1)]),
        t0,
        None,
        &mut acts,
    );
    a.due(t0 + Duration::from_secs(5), &mut acts);
    // The 1 ms ramp holds half an iteration: 1 + 1000 in all.
    assert_eq!(acts.len(), 1001);
    assert_eq!(a.next_due(), None);
}
