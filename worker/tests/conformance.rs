//! HTTP/1.1 conformance against real servers started by the tests (nginx,
//! Apache httpd, lighttpd, gunicorn, uvicorn, Node's `http`): one test per
//! server runs every case it can produce through stampede's client and
//! through curl, and fails unless the two agree (status, final URL and
//! redirects, decoded body, compared headers, error vs success, and what
//! the server saw: methods, bodies, cookies, connections) and each is
//! right by the case's own check. `docs/CONFORMANCE.md`'s table is the
//! cases' cells, checked here too. The servers come from `.ci/run`
//! (apt, PyPI into `target/ci-venv`); a missing one fails its test.
//!
//! Cases: `conformance/cases.rs` (their checks: `conformance/checks.rs`);
//! clients: `conformance/clients.rs`;
//! servers and their config: `conformance/servers.rs`; apps:
//! `conformance/apps/`.

mod conformance {
    pub mod bodies;
    pub mod cases;
    pub mod checks;
    pub mod clients;
    pub mod servers;
}

use conformance::cases::{self, Support};
use conformance::clients;
use conformance::servers::{Kind, Server};

/// Runs every case `kind` can produce; fails with every disagreement.
fn matrix(kind: Kind) {
    let server = Server::start(kind);
    let dir = tempfile::tempdir().unwrap();
    let start = server.seen().len();
    let mut runs = Vec::new();
    for case in cases::all() {
        if let Support::Na(_) = (case.support)(kind) {
            continue;
        }
        let steps = (case.steps)(&case, kind);
        let ours = clients::stampede(&server, &steps, case.compare);
        let curl = clients::curl(&server, &steps, case.compare, dir.path());
        runs.push((case, ours, curl));
    }
    // The log is read once at the end: lighttpd writes it about once a second.
    let made: usize = runs
        .iter()
        .map(|(_, a, b)| a.requests() + b.requests())
        .sum();
    let lines = server.seen_since(start, made);
    let mut failures = Vec::new();
    if lines.len() != made {
        failures.push(format!(
            "the server logged {} requests, the clients made {made}: the cases' requests \
             below are misattributed",
            lines.len()
        ));
    }
    let mut lines = lines.iter();
    for (case, ours, curl) in &mut runs {
        ours.take_seen(&mut lines);
        curl.take_seen(&mut lines);
        let mut problems = Vec::new();
        if ours.comparable() != curl.comparable() {
            problems.push(format!(
                "stampede and curl disagree\n  stampede: {:?}\n      curl: {:?}",
                ours.comparable(),
                curl.comparable()
            ));
        }
        for (who, run) in [("stampede", &*ours), ("curl", &*curl)] {
            if let Err(e) = (case.check)(case, kind, run) {
                problems.push(format!("{who}: {e}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", case.id, problems.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} against {}:\n{}\n{} stderr:\n{}",
        failures.len(),
        kind.name(),
        failures.join("\n"),
        kind.name(),
        server.stderr()
    );
}

#[test]
fn nginx() {
    matrix(Kind::Nginx);
}

#[test]
fn apache() {
    matrix(Kind::Apache);
}

#[test]
fn lighttpd() {
    matrix(Kind::Lighttpd);
}

#[test]
fn gunicorn() {
    matrix(Kind::Gunicorn);
}

#[test]
fn uvicorn() {
    matrix(Kind::Uvicorn);
}

#[test]
fn node() {
    matrix(Kind::Node);
}

/// The table of docs/CONFORMANCE.md, between its markers, is the matrix's.
#[test]
fn the_docs_table_is_the_matrix() {
    let mut table = String::from("| case |");
    for kind in Kind::ALL {
        table.push_str(&format!(" {} |", kind.name()));
    }
    table.push_str("\n|---|");
    table.push_str(&"---|".repeat(Kind::ALL.len()));
    table.push('\n');
    for case in cases::all() {
        table.push_str(&format!("| {} |", case.id));
        for kind in Kind::ALL {
            table.push_str(&format!(" {} |", case.cell(kind)));
        }
        table.push('\n');
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/CONFORMANCE.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let inside = doc
        .split_once("<!-- matrix -->\n")
        .and_then(|(_, rest)| rest.split_once("<!-- /matrix -->"))
        .map(|(t, _)| t);
    assert_eq!(
        inside,
        Some(table.as_str()),
        "docs/CONFORMANCE.md's table (between <!-- matrix --> and <!-- /matrix -->) should be:\n{table}"
    );
}
