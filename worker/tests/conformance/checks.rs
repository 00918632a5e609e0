//! The checks the cases hold each client's run to: a response's status,
//! body and headers, the file after a case, one connection or two.

use super::bodies::{self, Digest, digest};
use super::clients::{Got, Run, Seen};

pub fn want(ok: bool, what: &str, got: impl std::fmt::Debug) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("expected {what}, got {got:?}"))
    }
}

pub fn response(run: &Run, i: usize) -> Result<(u16, Digest), String> {
    match &run.got[i] {
        Got::Response { status, body, .. } => Ok((*status, *body)),
        other => Err(format!("step {i}: expected a response, got {other:?}")),
    }
}

pub fn header(run: &Run, i: usize, name: &str) -> String {
    match &run.got[i] {
        Got::Response { headers, .. } => headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Step `i` got the 2000-byte file.
pub fn file_after(run: &Run, i: usize) -> Result<(), String> {
    let (status, body) = response(run, i)?;
    want(
        status == 200 && body == digest(&bodies::file()),
        &format!("step {i}: the file"),
        &run.got[i],
    )
}

pub fn encoded(run: &Run, encoding: &str) -> Result<(), String> {
    let (status, body) = response(run, 0)?;
    want(status == 200, "status 200", status)?;
    want(
        header(run, 0, "content-encoding") == encoding,
        encoding,
        &run.got[0],
    )?;
    want(body == digest(&bodies::text()), "the decoded text", body)
}

fn conns(seen: &[Seen]) -> Vec<usize> {
    seen.iter().map(|s| s.conn).collect()
}

pub fn one_connection(run: &Run) -> Result<(), String> {
    let c = conns(&run.seen);
    want(
        c.iter().all(|&c| c == 0) && c.len() >= 2,
        "one connection",
        c,
    )
}

pub fn two_connections(run: &Run) -> Result<(), String> {
    let c = conns(&run.seen);
    want(c == [0, 1], "a second connection", c)
}
