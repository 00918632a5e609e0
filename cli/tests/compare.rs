//! `stampede compare` on real runs against the shop: a run where one
//! endpoint was slowed (`stampede shop --slow`) is flagged at that endpoint
//! and no other; unchanged runs are not flagged; each gate's exit code; a
//! report of schema `/1` is still read; Markdown, JSON, and JUnit (of the
//! gates, and of a run's thresholds) read back by junitparser; the HTML page
//! read back by Python's html.parser (well-formed, self-contained, a curve
//! chart per row with both runs, bars marked as the JSON marks them); a
//! run's Markdown summary; bad input.

mod common;

use std::path::{Path, PathBuf};

use common::junit::junit_cases;
use common::{ShopProcess, html, stampede};
use serde_json::{Value, json};

const SCENARIO: &str = "name: compare-test
users:
  - name: U
    wait: {constant: 5ms}
    sequence:
      - get: /api/products/
        name: list
      - get: /api/products/1/
        name: one
";

/// A 2 s run of 5 users against `shop`, its JSON report in `dir/name`.
fn run(dir: &Path, shop: &ShopProcess, name: &str) -> PathBuf {
    let scenario = dir.join("s.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let json = dir.join(name);
    let out = stampede()
        .args(["run", "-f"])
        .arg(&scenario)
        .args(["--host", &shop.url, "--headless", "-u", "5", "-r", "100"])
        .args(["-t", "2s", "--only-summary", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json
}

/// `stampede compare BASE NEW ARGS...`: exit code, stdout, stderr. The
/// margin is 30%: these machines are shared and noisy (a p95 of a 2 s run
/// moves by 10-20% between identical runs when other work runs beside it),
/// and the slowed endpoint's times double.
fn compare(base: &Path, new: &Path, args: &[&str]) -> (i32, String, String) {
    let out = stampede()
        .arg("compare")
        .arg(base)
        .arg(new)
        .args(if args.iter().any(|a| a.starts_with("--noise")) {
            &[][..]
        } else {
            &["--noise", "30"][..]
        })
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The regressed latency metrics of each row of a `--json` comparison.
fn regressed_latency(json: &Path) -> Vec<(String, Vec<String>)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let names = r["regressed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                // Closed-loop users share their time: a slow endpoint lowers
                // every endpoint's requests/s. Latency is what is per endpoint.
                .filter(|m| m != "rps")
                .collect();
            (r["name"].as_str().unwrap().to_owned(), names)
        })
        .collect()
}

#[test]
fn a_slowed_endpoint_is_flagged_there_and_unchanged_runs_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A fixed 5 ms of latency: response times are mostly the shop's sleep.
    let shop = ShopProcess::start(&["--latency", "5ms"]);
    let base = run(d, &shop, "base.json");
    let again = run(d, &shop, "again.json");
    let hosts = vec![shop.url.clone()];
    drop(shop);
    let slow_shop = ShopProcess::start(&["--latency", "5ms", "--slow", "/api/products/1/=10ms"]);
    let slow = run(d, &slow_shop, "slow.json");

    let json = d.join("c.json");
    let (code, table, _) = compare(&base, &again, &["--json", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{table}");
    for (name, regressed) in regressed_latency(&json) {
        assert!(
            regressed.is_empty(),
            "unchanged runs flagged {name}: {regressed:?}\n{table}"
        );
    }

    let (code, table, _) = compare(&base, &slow, &["--json", json.to_str().unwrap()]);
    assert_eq!(code, 0, "no gate, no failure: {table}");
    let rows = regressed_latency(&json);
    let of = |name: &str| &rows.iter().find(|(n, _)| n == name).unwrap().1;
    for m in ["p50", "p95", "avg"] {
        assert!(of("one").iter().any(|r| r == m), "{m} of `one`: {table}");
    }
    assert!(
        of("list").is_empty(),
        "`list` was not slowed: {:?}\n{table}",
        of("list")
    );
    assert!(table.contains("regressed"), "{table}");

    // Gates: exit 1 on a failed one, 0 when all hold; the table says which.
    let (code, out, _) = compare(&base, &slow, &["--fail-if", "GET one: p95:+50%"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  GET one: p95:+50%"), "{out}");
    let held = [
        "--fail-if",
        "GET list: p95:+50%",
        "--fail-if",
        "fail_ratio:+1pp",
    ];
    let (code, out, _) = compare(&base, &slow, &held);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("pass  GET list: p95:+50%") && out.contains("pass  fail_ratio:+1pp"),
        "{out}"
    );
    let (code, out, _) = compare(&base, &slow, &["--fail-if", "GET one: p50:+5ms"]);
    assert_eq!(code, 1, "its median rose by some 10 ms: {out}");
    let (code, out, _) = compare(&slow, &base, &["--fail-if", "GET one: p95:+10%"]);
    assert_eq!(code, 0, "faster is no regression: {out}");

    // Markdown for a CI summary page.
    let md = d.join("c.md");
    let gate = [
        "--fail-if",
        "GET one: p95:+50%",
        "--summary-md", // the alias of --markdown, as run and master name it
        md.to_str().unwrap(),
    ];
    assert_eq!(compare(&base, &slow, &gate).0, 1);
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.starts_with("### stampede compare: `compare-test` (1 of 1 gates failed)"),
        "{md}"
    );
    assert!(md.contains("| Type | Name | req/s |"), "{md}");
    assert!(md.contains("| `GET one: p95:+50%` | ❌ fail |"), "{md}");
    let one = md.lines().find(|l| l.starts_with("| GET | one |")).unwrap();
    assert!(
        one.ends_with("p50, p66, p75, p80, p90, p95, p98 |") || one.contains("p95"),
        "{one}"
    );

    // A report of schema /1 (no histograms) is still read.
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    v["schema"] = "stampede-report/1".into();
    v["total"].as_object_mut().unwrap().remove("histogram");
    for e in v["stats"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("histogram");
    }
    let old = d.join("old.json");
    std::fs::write(&old, v.to_string()).unwrap();
    let (code, out, err) = compare(&old, &slow, &["--fail-if", "GET one: p95:+50%"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("judged by the noise margin alone"), "{err}");

    let hosts = [hosts, vec![slow_shop.url.clone()]].concat();
    html_page_marks_what_the_json_marks(d, [&base, &slow, &old], &hosts);
}

/// `--html` beside `--json` of the same comparison: the page is well-formed
/// and self-contained, has a percentile chart per row (Aggregated first)
/// with both runs, from the histograms (many points) or a `/1` report's
/// percentiles (a few), and marks each bar as the JSON marks that metric.
fn html_page_marks_what_the_json_marks(d: &Path, [base, slow, old]: [&Path; 3], hosts: &[String]) {
    let (page, json_file) = (d.join("c.html"), d.join("c.json"));
    let gates = [
        "--fail-if",
        "GET one: p95:+50%",
        "--fail-if",
        "GET list: p95:+50%",
    ];
    let files = [
        "--json",
        json_file.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ];
    assert_eq!(compare(base, slow, &[&gates[..], &files[..]].concat()).0, 1);
    let p = html::parse_self_contained(&page, hosts);
    let cell = |row: usize, col: usize| p["gates"][row][col].clone();
    assert_eq!(
        [cell(0, 0), cell(0, 1), cell(0, 5)],
        ["FAIL", "GET one: p95:+50%", "+50.0%"]
    );
    assert_eq!([cell(1, 0), cell(1, 1)], ["PASS", "GET list: p95:+50%"]);

    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    let rows = p["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Aggregated", "GET list", "GET one"]);
    assert_eq!(p["charts"], 3, "one chart per row");
    for (row, name) in rows.iter().zip(&names) {
        let (base, new) = (&row["lines"][0], &row["lines"][1]);
        assert_eq!([&base[0], &new[0]], ["c-base dash", "c-new"], "{row}");
        assert!(
            base[1].as_u64() > Some(100) && new[1].as_u64() > Some(100),
            "{row}"
        );
        // Each bar marked as the JSON (and so the table) marks its metric.
        let short = name.rsplit(' ').next().unwrap();
        let json_row = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == short);
        let regressed = json_row.unwrap()["regressed"].as_array().unwrap();
        let bars = row["bars"].as_object().unwrap();
        assert_eq!(bars.len(), 4, "no failures, no fail % bar: {row}");
        for (label, metric) in [
            ("p50", "p50"),
            ("p95", "p95"),
            ("p99", "p99"),
            ("req/s", "rps"),
        ] {
            let marked = bars[label] == "regressed";
            assert_eq!(
                marked,
                regressed.contains(&json!(metric)),
                "{name} {metric}: {row}"
            );
        }
        assert_eq!(
            row["pill"] == "fail",
            !regressed.is_empty(),
            "{name}: {row}"
        );
    }
    let (list, one) = (&rows[1]["bars"], &rows[2]["bars"]);
    assert_eq!(
        [&one["p50"], &one["p95"]],
        ["regressed", "regressed"],
        "the slowed endpoint"
    );
    for m in ["p50", "p95", "p99"] {
        assert_ne!(list[m], "regressed", "`list` was not slowed: {m}");
    }

    // A /1 base: its curves are the report's percentiles, a few points.
    assert_eq!(compare(old, slow, &files[2..]).0, 0);
    let p = html::parse_self_contained(&page, hosts);
    assert_eq!(p["charts"], 3);
    for row in p["rows"].as_array().unwrap() {
        let points = |i: usize| row["lines"][i][1].as_u64().unwrap();
        assert!((3..=10).contains(&points(0)) && points(1) > 100, "{row}");
    }
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(text.contains("the margin alone"), "how noise was judged");
}

#[test]
fn the_page_checker_catches_broken_html() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.html");
    for broken in [
        "<html><body><p>a</body></html>",
        "<html><div><svg></div></html>",
        "<html><b>",
    ] {
        std::fs::write(&file, broken).unwrap();
        let p = html::parse(&file);
        assert_ne!(p["errors"], json!([]), "{broken}: {p}");
    }
    std::fs::write(
        &file,
        r#"<!DOCTYPE html><html><body><p>a<br>b</p><svg><path d="M1,2"/></svg></body></html>"#,
    )
    .unwrap();
    assert_eq!(html::parse(&file)["errors"], json!([]));
}

/// A case's suite, its counts, classname and name.
fn head(case: &Value) -> Value {
    Value::Array(case.as_array().unwrap()[..5].to_vec())
}

#[test]
fn junit_files_of_gates_and_thresholds_read_back_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shop = ShopProcess::start(&["--latency", "5ms"]);
    let base = run(d, &shop, "base.json");
    drop(shop);
    let slow_shop = ShopProcess::start(&["--latency", "5ms", "--slow", "/api/products/1/=10ms"]);
    let slow = run(d, &slow_shop, "slow.json");
    let junit = d.join("gates.xml");
    let args = [
        "--fail-if",
        "GET one: p95:+50%",
        "--fail-if",
        "GET list: p95:+50%",
        "--junit",
        junit.to_str().unwrap(),
    ];
    assert_eq!(compare(&base, &slow, &args).0, 1);
    let cases = junit_cases(&junit);
    let rows = cases.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{cases}");
    assert_eq!(
        head(&rows[0]),
        serde_json::json!(["gates", 2, 1, "compare-test", "GET one: p95:+50%"])
    );
    let message = rows[0][5].as_str().unwrap();
    assert!(
        message.starts_with("base ") && message.contains(", limit 0.5 (beyond noise)"),
        "{message}"
    );
    assert_eq!(rows[1][4], "GET list: p95:+50%");
    assert!(
        rows[1][5].is_null(),
        "the held gate has no failure: {cases}"
    );

    // A run's thresholds, one failing.
    let scenario = d.join("s.yaml");
    let thresholds = d.join("thresholds.xml");
    let out = stampede()
        .args(["run", "-f"])
        .arg(&scenario)
        .args([
            "--host",
            &slow_shop.url,
            "--headless",
            "-u",
            "2",
            "-r",
            "100",
            "-t",
            "1s",
        ])
        .args([
            "--only-summary",
            "--threshold",
            "p95<1ms",
            "--threshold",
            "fail_ratio<1%",
        ])
        .arg("--junit")
        .arg(&thresholds)
        .arg("--summary-md")
        .arg(d.join("summary.md"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a threshold failed");
    // The same run's Markdown summary, for a CI job's summary page.
    let md = std::fs::read_to_string(d.join("summary.md")).unwrap();
    assert!(
        md.starts_with("### stampede: `compare-test` (1 of 2 thresholds failed)\n"),
        "{md}"
    );
    assert!(
        md.contains("| `p95<1ms` | ❌ fail |") && md.contains("| `fail_ratio<1%` | ✅ pass |"),
        "{md}"
    );
    assert!(md.contains("| Type | Name | Requests | Failures |"), "{md}");
    for name in ["list", "one", "Aggregated"] {
        assert!(
            md.lines().any(|l| l.contains(&format!("| {name} | "))),
            "{name}: {md}"
        );
    }
    let cases = junit_cases(&thresholds);
    let rows = cases.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{cases}");
    assert_eq!(
        head(&rows[0]),
        serde_json::json!(["thresholds", 2, 1, "compare-test", "p95<1ms"])
    );
    let message = rows[0][5].as_str().unwrap();
    assert!(
        message.starts_with("actual ") && message.ends_with(", limit 1ms"),
        "{message}"
    );
    assert_eq!(rows[1][4], "fail_ratio<1%");
    assert!(rows[1][5].is_null(), "{cases}");
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shop = ShopProcess::start(&[]);
    let base = run(d, &shop, "base.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    v["run"]["scenario"] = "another".into();
    let other = d.join("other.json");
    std::fs::write(&other, v.to_string()).unwrap();
    let garbage = d.join("garbage.json");
    std::fs::write(&garbage, "{\"not\": \"a report\"}").unwrap();
    let mut future = v.clone();
    future["schema"] = "stampede-report/9".into();
    let future_file = d.join("future.json");
    std::fs::write(&future_file, future.to_string()).unwrap();
    let missing = d.join("missing.json");

    for (new, args, want) in [
        (
            &other,
            vec![],
            "error: the runs are of different scenarios (`compare-test` and `another`)",
        ),
        (&garbage, vec![], "garbage.json: not a stampede json report"),
        (
            &future_file,
            vec![],
            "schema `stampede-report/9` is not one this version reads",
        ),
        (&missing, vec![], "missing.json: cannot read: no such file"),
        (
            &base,
            vec!["--fail-if", "p97:+1%"],
            "--fail-if `p97:+1%`: unknown metric `p97`",
        ),
        (&base, vec!["--fail-if", "p95:10%"], "needs a sign"),
        (
            &base,
            vec!["--fail-if", "GET nope: p95:+1%"],
            "no endpoint `GET nope` in both runs",
        ),
        (
            &base,
            vec!["--noise=-3"],
            "--noise: expected a percentage of 0 or more",
        ),
    ] {
        let (code, out, err) = compare(&base, new, &args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
