//! `stampede import` and `run -f locustfile.py` through the binary: exit
//! codes (0 all translated, 1 something left out, 2 with --strict), stdin,
//! and the seed's locustfiles converted and run against `stampede shop`
//! with the seed's thresholds, their bugs showing up as failures.

mod common;

use common::{ShopProcess, stampede};

fn locustfile(name: &str) -> String {
    format!(
        "{}/../import/tests/locustfiles/{name}.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn import_writes_the_scenario_and_says_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("locustfile.yaml");
    stampede()
        .args(["import", &locustfile("seed_locustfile"), "-o"])
        .arg(&out)
        .assert()
        .code(0);
    let yaml = std::fs::read_to_string(&out).unwrap();
    assert!(yaml.starts_with("# Imported from "), "{yaml}");
    stampede().args(["check", "-f"]).arg(&out).assert().code(0);

    let a = stampede()
        .args(["import", &locustfile("untranslatable")])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    let first = stderr.lines().next().unwrap();
    assert!(
        first.ends_with("untranslatable.py:3:8: untranslated: import psycopg2 (the module `psycopg2` has no equivalent)"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("untranslatable.py:17:9: untranslated: try: (try/except has no equivalent)"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("users:"));

    let strict = dir.path().join("strict.yaml");
    let a = stampede()
        .args(["import", &locustfile("untranslatable"), "--strict", "-o"])
        .arg(&strict)
        .assert()
        .code(2);
    assert!(!strict.exists(), "nothing written with --strict");
    assert!(
        String::from_utf8_lossy(&a.get_output().stderr).contains("(--strict); nothing written")
    );

    let text = std::fs::read_to_string(locustfile("seed_payment")).unwrap();
    let a = stampede()
        .args(["import", "-"])
        .write_stdin(text)
        .assert()
        .code(0);
    assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("name: \"PaymentUser\""));
    stampede()
        .args(["import", "nope.py"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "error: nope.py: no such file or directory",
        ));
    stampede()
        .args(["import", "-"])
        .write_stdin("class A(HttpUser):\n    def f(self)\n")
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "error: <stdin>:2:16: python syntax error: expected `:`",
        ));
}

/// Runs the locustfile against a fresh shop with the seed's thresholds;
/// returns the JSON report and the shop's count.
fn run_seed(name: &str, seconds: u32) -> (serde_json::Value, u64, i32, String) {
    let shop = ShopProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let a = stampede()
        .args([
            "run",
            "--headless",
            "-f",
            &locustfile(name),
            "--host",
            &shop.url,
        ])
        .args([
            "-u",
            "30",
            "-r",
            "100",
            "-t",
            &format!("{seconds}s"),
            "--only-summary",
        ])
        .args([
            "--threshold",
            "avg<1s",
            "--threshold",
            "p95<2s",
            "--threshold",
            "fail_ratio<5%",
        ])
        .arg("--json")
        .arg(&json)
        .assert();
    let out = a.get_output();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (
        report,
        shop.served(),
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn failed_rows(report: &serde_json::Value) -> Vec<String> {
    report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["method"].as_str().unwrap(),
                f["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_seed_locustfile_runs_converted_and_its_payment_bug_fails() {
    // Its users wait 1-5 s after each of the five tasks: 20 s lets (almost)
    // every one of them reach the payment.
    let (report, served, code, stderr) = run_seed("seed_locustfile", 20);
    assert!(
        stderr.contains("is a locustfile: converting it on the fly"),
        "{stderr}"
    );
    assert_eq!(
        report["total"]["requests"].as_u64().unwrap(),
        served,
        "counts = the shop's"
    );
    // The random order ids of the seed never match an order: failures, and
    // the fail_ratio threshold of the seed is lost (exit 1).
    let rows = failed_rows(&report);
    assert!(
        rows.iter().any(|r| r == "POST /api/payments/confirm/"),
        "{rows:?}"
    );
    assert_eq!(code, 1, "{stderr}");
}

#[test]
fn the_seed_payment_scenario_fails_as_locust_shows_it() {
    let (report, served, code, stderr) = run_seed("seed_payment", 3);
    assert_eq!(report["total"]["requests"].as_u64().unwrap(), served);
    // perf_user_N are never created: the logins fail, and the payments
    // without a token too; the users still pay, as in Locust.
    let rows = failed_rows(&report);
    assert!(
        rows.iter().any(|r| r == "POST /api/auth/login/"),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r == "POST /api/payments/confirm/ [Concurrent]"),
        "{rows:?}"
    );
    assert_eq!(code, 1, "{stderr}");
}

/// The sorted stats row names of a 1 s run of `yaml` with `flags`.
fn stat_names(shop: &ShopProcess, yaml: &str, flags: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    stampede()
        .args(["run", "--headless", "-f", "-", "--host", &shop.url])
        .args([
            "-u",
            "2",
            "-r",
            "100",
            "-t",
            "1s",
            "--only-summary",
            "--json",
        ])
        .arg(&json)
        .args(flags)
        .write_stdin(yaml)
        .assert()
        .code(0);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let mut names: Vec<String> = r["stats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn tags_select_the_tasks_of_a_scenario() {
    let shop = ShopProcess::start(&[]);
    let yaml = "users:\n  - name: U\n    wait: {constant: 20ms}\n    tasks:\n      - {tags: [a], steps: [{get: /api/products/1/}]}\n      - {tags: [b], steps: [{get: /api/products/2/}]}\n      - {steps: [{get: /api/products/3/}]}\n";
    let rows = |flags: &[&str]| stat_names(&shop, yaml, flags);
    assert_eq!(rows(&["--tags", "a"]), ["/api/products/1/"]);
    // Steps carry tags too: a sequence's steps are its tasks; a tagged step
    // inside a task runs only when the filter keeps it.
    let seq = "users:\n  - name: S\n    wait: {constant: 20ms}\n    sequence:\n      - {get: /api/products/4/, tags: [a]}\n      - {get: /api/products/5/}\n  - name: W\n    wait: {constant: 20ms}\n    tasks:\n      - {tags: [a], steps: [{get: /api/products/6/}, {get: /api/products/7/, tags: [slow]}]}\n";
    let rows_of = |flags: &[&str]| stat_names(&shop, seq, flags);
    assert_eq!(
        rows_of(&["--tags", "a", "--exclude-tags", "slow"]),
        ["/api/products/4/", "/api/products/6/"]
    );
    assert_eq!(rows(&["--exclude-tags", "a,b"]), ["/api/products/3/"]);
    assert_eq!(
        rows(&["-T", "a", "-T", "b", "-E", "b"]),
        ["/api/products/1/"]
    );
    stampede()
        .args([
            "run",
            "--headless",
            "-f",
            "-",
            "--host",
            &shop.url,
            "-t",
            "1s",
            "--tags",
            "zzz",
        ])
        .write_stdin(yaml)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "error: with these tags, no user class has a task left to run",
        ));
}

#[test]
fn a_locust_conf_runs_as_its_flags() {
    let shop = ShopProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("locust.conf");
    std::fs::write(
        &conf,
        format!(
            "# Locust's own format\nlocustfile = {}\nhost = {}\nusers = 3\nspawn-rate = 100\nrun-time = 1s\nheadless = true\nonly-summary = true\n",
            locustfile("seed_payment"),
            shop.url
        ),
    )
    .unwrap();
    let a = stampede().args(["run", "-c"]).arg(&conf).assert();
    // Every flag came from the file; the seed's payment bug fails every
    // request (no threshold here, so the exit code stays 0).
    let out = a.get_output();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("scenario seed_payment against"), "{stdout}");
    assert!(stdout.contains("3 users for"), "{stdout}");
    assert!(stdout.contains("failures (100.00%)"), "{stdout}");
    std::fs::write(&conf, "users = 3\nprocesses = 4\n").unwrap();
    stampede()
        .args(["run", "--config"])
        .arg(&conf)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            ":2: `processes` has no stampede equivalent",
        ));
}
