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

fn stats_line(r: &StatsRow) -> Vec<String> {
    vec![
        r.method.clone(),
        r.name.clone(),
        r.requests.to_string(),
        format!("{}({:.2}%)", r.failures, r.fail_ratio() * 100.0),
        ms(r.avg_ms),
        ms(r.min_ms),
        ms(r.max_ms),
        ms(r.median_ms),
        format!("{:.2}", r.current_rps),
        format!("{:.2}", r.fail_per_s),
    ]
}

/// The request table (Locust's console columns, times in ms).
pub fn render_stats(s: &Snapshot) -> String {
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
        t.add_row(stats_line(r));
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
