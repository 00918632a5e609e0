//! Terminal tables in Locust's columns: the request stats, the response time
//! percentiles and the failures.

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{CellAlignment, Table};

use super::{PERCENTILE_LABELS, Snapshot, StatsRow};

fn table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(header);
    t
}

fn right_align(t: &mut Table, from: usize) {
    let n = t.column_count();
    for i in from..n {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Which rate the request table's `req/s` column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rates {
    /// Over the last ten seconds: the live table.
    Current,
    /// Over the whole run: the final summary (as Locust's).
    Run,
}

fn stats_line(r: &StatsRow, rates: Rates) -> Vec<String> {
    let rps = match rates {
        Rates::Current => r.current_rps,
        Rates::Run => r.rps,
    };
    vec![
        r.method.clone(),
        r.name.clone(),
        r.requests.to_string(),
        format!("{}({:.2}%)", r.failures, r.fail_ratio() * 100.0),
        ms(r.avg_ms),
        ms(r.min_ms),
        ms(r.max_ms),
        ms(r.median_ms),
        format!("{rps:.2}"),
        format!("{:.2}", r.fail_per_s),
    ]
}

/// The request table (Locust's console columns, times in ms), its `req/s`
/// the current rate or the run's average; `failures/s` is the run's average.
pub fn render_stats(s: &Snapshot, rates: Rates) -> String {
    let mut t = table(vec![
        "Type",
        "Name",
        "# reqs",
        "# fails",
        "Avg",
        "Min",
        "Max",
        "Med",
        "req/s",
        "failures/s",
    ]);
    for r in s.rows.iter().chain(std::iter::once(&s.total)) {
        t.add_row(stats_line(r, rates));
    }
    right_align(&mut t, 2);
    t.to_string()
}

/// Response time percentiles per endpoint, in ms (exact to 3 significant digits).
pub fn render_percentiles(s: &Snapshot) -> String {
    let mut header = vec!["Type", "Name"];
    header.extend(PERCENTILE_LABELS);
    header.push("# reqs");
    let mut t = table(header);
    for r in s.rows.iter().chain(std::iter::once(&s.total)) {
        let mut line = vec![r.method.clone(), r.name.clone()];
        line.extend(r.percentiles_ms.iter().map(|v| ms(*v)));
        line.push(r.requests.to_string());
        t.add_row(line);
    }
    right_align(&mut t, 2);
    t.to_string()
}

/// The failures table, or `None` when nothing failed.
pub fn render_failures(s: &Snapshot) -> Option<String> {
    if s.failures.is_empty() {
        return None;
    }
    let mut t = table(vec!["# occurrences", "Type", "Name", "Error"]);
    for (k, e) in &s.failures {
        t.add_row(vec![
            e.occurrences.to_string(),
            k.key.method.clone(),
            k.key.name.clone(),
            k.error.clone(),
        ]);
    }
    Some(t.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::stats::{Measured, Recorder, RunStats, StatsKey};

    /// The `req/s` cell of the row named `name`.
    fn rps_cell(table: &str, name: &str) -> String {
        let row = table.lines().find(|l| l.contains(name)).unwrap();
        let cells: Vec<&str> = row.split_whitespace().filter(|c| *c != "│").collect();
        cells[8].to_owned()
    }

    #[test]
    fn the_final_table_shows_the_runs_average_rate() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let keys = vec![
            StatsKey::new("POST", "/login"),
            StatsKey::new("GET", "/items"),
        ];
        let r = Recorder::new(keys);
        let mut stats = RunStats::new(t0);
        // 20 logins in the first second, then only item views for 19 s.
        for _ in 0..20 {
            r.record(0, 1_000, 0, None);
        }
        let second = |s: u64| {
            let end = t0 + Duration::from_secs(s);
            (
                Measured::before(end, Duration::ZERO, Duration::from_secs(1)),
                end,
            )
        };
        let (m, end) = second(1);
        stats.add(&r.take(), m, end);
        for s in 2..=20 {
            r.record(1, 1_000, 0, None);
            let (m, end) = second(s);
            stats.add(&r.take(), m, end);
        }
        stats.finish(t0 + Duration::from_secs(20));
        let snap = stats.snapshot(t0 + Duration::from_secs(20));
        let live = render_stats(&snap, Rates::Current);
        let done = render_stats(&snap, Rates::Run);
        assert_eq!(
            rps_cell(&live, "/login"),
            "0.00",
            "no login in the last window"
        );
        assert_eq!(rps_cell(&done, "/login"), "1.00", "20 logins over 20 s");
    }
}
