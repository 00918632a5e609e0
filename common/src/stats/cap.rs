//! Bounds on what a run's merged stats hold, whatever workers send: at most
//! [`MAX_NAMES`] rows, [`MAX_ERRORS`] failure messages and as many
//! exception messages, each name or message at most [`MAX_TEXT`] bytes.
//! Past a bound the counts still land, under a catch-all row or message
//! (`(other names)`, `(other errors)`), so the totals stay exact; the
//! master warns once. A worker's own recorder caps run-time names too
//! (`MAX_NAMED`); this guards the master from a buggy or hostile one.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::{EndpointStats, FailureKey, GROUP_METHOD, IntervalStats, StatsKey};

/// Most rows (method and name) a run keeps. Each row's histograms (the
/// run's and the history's, 1 µs to 1 h at 3 digits) take some 400 kB on
/// the master, so this bounds them to about 400 MB; Locust's web table
/// shows 500 rows.
pub const MAX_NAMES: usize = 1_000;
/// Most distinct failure messages a run keeps, and as many exception messages.
pub const MAX_ERRORS: usize = 1_000;
/// Longest name or message kept, in bytes; longer ones are cut at a
/// character boundary and end in `…`.
pub const MAX_TEXT: usize = 1_000;
/// The name of the row past [`MAX_NAMES`].
pub const OTHER_NAMES: &str = "(other names)";
/// The message past [`MAX_ERRORS`].
pub const OTHER_ERRORS: &str = "(other errors)";

/// The methods a catch-all row keeps; any other is counted as `OTHER`, so
/// the catch-all rows are bounded too.
const METHODS: [&str; 10] = [
    "GET",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "HEAD",
    "OPTIONS",
    "TRACE",
    "CONNECT",
    GROUP_METHOD,
];

/// Which bounds an interval was the first to reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capped {
    /// Rows past [`MAX_NAMES`] went to `(other names)`.
    pub names: bool,
    /// Failure or exception messages past [`MAX_ERRORS`] went to `(other errors)`.
    pub errors: bool,
}

impl Capped {
    /// Whether any bound was reached.
    pub fn any(self) -> bool {
        self.names || self.errors
    }
}

/// What the run holds so far, to tell a new name from a known one.
pub(super) struct Held<'a, F> {
    pub endpoints: &'a BTreeMap<StatsKey, EndpointStats>,
    pub failures: &'a BTreeMap<FailureKey, F>,
    pub exceptions: &'a BTreeMap<String, u64>,
}

/// `interval` as the run may keep it: unchanged (the usual case, no copy)
/// when every name and message is short and known or has room; otherwise a
/// copy with the overflow renamed to the catch-alls, and which bounds it hit.
pub(super) fn cap<'a, F>(
    held: &Held<'_, F>,
    interval: &'a IntervalStats,
) -> (Cow<'a, IntervalStats>, Capped) {
    if fits(held, interval) {
        return (Cow::Borrowed(interval), Capped::default());
    }
    let mut capped = Capped::default();
    let mut rows: HashMap<&StatsKey, StatsKey> = HashMap::new();
    let mut room = MAX_NAMES.saturating_sub(held.endpoints.len());
    let mut row = |key: &'a StatsKey, capped: &mut Capped| -> StatsKey {
        if let Some(k) = rows.get(key) {
            return k.clone();
        }
        let short = StatsKey::new(clip(&key.method), clip(&key.name));
        let kept = if held.endpoints.contains_key(&short) {
            short
        } else if room > 0 {
            room -= 1;
            short
        } else {
            capped.names = true;
            other_row(&key.method)
        };
        rows.insert(key, kept.clone());
        kept
    };
    let mut endpoints = BTreeMap::new();
    for (key, s) in &interval.endpoints {
        merge_into(&mut endpoints, row(key, &mut capped), s);
    }
    let mut service = BTreeMap::new();
    for (key, s) in &interval.service {
        merge_into(&mut service, row(key, &mut capped), s);
    }
    let mut failures: BTreeMap<FailureKey, u64> = BTreeMap::new();
    let mut failure_room = MAX_ERRORS.saturating_sub(held.failures.len());
    for (f, n) in &interval.failures {
        let mut key = FailureKey {
            key: row(&f.key, &mut capped),
            error: clip(&f.error),
        };
        if !held.failures.contains_key(&key) && !failures.contains_key(&key) {
            if failure_room > 0 {
                failure_room -= 1;
            } else {
                capped.errors = true;
                key.error = OTHER_ERRORS.to_owned();
            }
        }
        *failures.entry(key).or_default() += n;
    }
    let mut exceptions: BTreeMap<String, u64> = BTreeMap::new();
    let mut exception_room = MAX_ERRORS.saturating_sub(held.exceptions.len());
    for (msg, n) in &interval.exceptions {
        let mut msg = clip(msg);
        if !held.exceptions.contains_key(&msg) && !exceptions.contains_key(&msg) {
            if exception_room > 0 {
                exception_room -= 1;
            } else {
                capped.errors = true;
                msg = OTHER_ERRORS.to_owned();
            }
        }
        *exceptions.entry(msg).or_default() += n;
    }
    let out = IntervalStats {
        endpoints: endpoints.into_iter().collect(),
        service: service.into_iter().collect(),
        failures: failures.into_iter().collect(),
        exceptions: exceptions.into_iter().collect(),
        iterations: interval.iterations,
        dropped_iterations: interval.dropped_iterations,
    };
    (Cow::Owned(out), capped)
}

/// The usual case, checked without copying: everything short, and every
/// new name or message within its room.
fn fits<F>(held: &Held<'_, F>, interval: &IntervalStats) -> bool {
    let short = |s: &str| s.len() <= MAX_TEXT;
    let rows = || interval.endpoints.iter().chain(&interval.service);
    let new_rows = rows()
        .filter(|(k, _)| !held.endpoints.contains_key(k))
        .count();
    let new_failures = interval
        .failures
        .iter()
        .filter(|(k, _)| !held.failures.contains_key(k))
        .count();
    let new_exceptions = interval
        .exceptions
        .iter()
        .filter(|(m, _)| !held.exceptions.contains_key(m))
        .count();
    rows().all(|(k, _)| short(&k.name) && short(&k.method))
        && interval
            .failures
            .iter()
            .all(|(k, _)| short(&k.key.name) && short(&k.key.method) && short(&k.error))
        && interval.exceptions.iter().all(|(m, _)| short(m))
        && held.endpoints.len() + new_rows <= MAX_NAMES
        && held.failures.len() + new_failures <= MAX_ERRORS
        && held.exceptions.len() + new_exceptions <= MAX_ERRORS
}

fn other_row(method: &str) -> StatsKey {
    let method = METHODS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .copied()
        .unwrap_or("OTHER");
    StatsKey::new(method, OTHER_NAMES)
}

/// `s` cut to at most [`MAX_TEXT`] bytes (with the `…`).
fn clip(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_owned();
    }
    let mut end = MAX_TEXT - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn merge_into(rows: &mut BTreeMap<StatsKey, EndpointStats>, key: StatsKey, s: &EndpointStats) {
    rows.entry(key).or_default().merge(s);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::stats::{Measured, Recorder, RunStats};

    /// One interval of a request to each name, failing with `error`.
    fn interval(names: &[String], error: Option<&str>) -> IntervalStats {
        let keys = names.iter().map(|n| StatsKey::new("GET", n)).collect();
        let r = Recorder::new(keys);
        for slot in 0..names.len() {
            r.record(slot, 1_000, 0, error);
        }
        r.take()
    }

    fn add(run: &mut RunStats, i: &IntervalStats) -> Capped {
        let t = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        run.add(i, Measured::before(t, Duration::ZERO, Duration::ZERO), t)
    }

    #[test]
    fn names_past_the_bound_go_to_the_catch_all_and_totals_stay_exact() {
        let mut run = RunStats::new(UNIX_EPOCH);
        let names: Vec<String> = (0..MAX_NAMES + 50).map(|i| format!("/n/{i}")).collect();
        let first = add(&mut run, &interval(&names, None));
        assert!(first.names && !first.errors);
        assert_eq!(run.endpoints().len(), MAX_NAMES + 1);
        let other = &run.endpoints()[&StatsKey::new("GET", OTHER_NAMES)];
        assert_eq!(other.requests, 50);
        assert_eq!(run.total().requests, (MAX_NAMES + 50) as u64);
        // Known names still count in their own rows; the warning comes once.
        let again = add(&mut run, &interval(&names[..10], None));
        assert_eq!(again, Capped::default());
        assert_eq!(run.endpoints()[&StatsKey::new("GET", "/n/3")].requests, 2);
        let more = add(&mut run, &interval(&["/new".to_owned()], None));
        assert!(!more.names, "warned once");
        assert_eq!(
            run.endpoints()[&StatsKey::new("GET", OTHER_NAMES)].requests,
            51
        );
    }

    #[test]
    fn long_names_are_cut_at_a_character_boundary() {
        let mut run = RunStats::new(UNIX_EPOCH);
        let long = "é".repeat(MAX_TEXT);
        add(
            &mut run,
            &interval(&[long.clone(), long], Some(&"e".repeat(5_000))),
        );
        let (key, stats) = run.endpoints().iter().next().unwrap();
        assert!(key.name.len() <= MAX_TEXT && key.name.ends_with('…'));
        assert!(key.name.starts_with("éé"));
        assert_eq!(stats.requests, 2, "both cut to the same name");
        let snap = run.snapshot(UNIX_EPOCH + Duration::from_secs(1));
        assert!(snap.failures[0].0.error.len() <= MAX_TEXT);
    }

    #[test]
    fn error_messages_past_the_bound_go_to_the_catch_all() {
        let mut run = RunStats::new(UNIX_EPOCH);
        let names = ["/a".to_owned()];
        for i in 0..MAX_ERRORS + 5 {
            let capped = add(&mut run, &interval(&names, Some(&format!("error {i}"))));
            assert_eq!(capped.errors, i == MAX_ERRORS, "warned once, at {i}");
        }
        let snap = run.snapshot(UNIX_EPOCH + Duration::from_secs(1));
        assert_eq!(snap.failures.len(), MAX_ERRORS + 1);
        let other = snap
            .failures
            .iter()
            .find(|(k, _)| k.error == OTHER_ERRORS)
            .unwrap();
        assert_eq!(other.1.occurrences, 5);
        assert_eq!(snap.total.failures, (MAX_ERRORS + 5) as u64);
    }
}
