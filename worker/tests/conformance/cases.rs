//! The cases of the conformance matrix: each case's steps, which servers
//! can produce it (an honest "n/a" with the reason where one cannot), and
//! what a correct client must have got and the server must have seen (held
//! against both stampede's run and curl's, besides their agreement).

use std::time::Duration;

use http::Method;

use super::bodies::{self, LAST_MODIFIED, digest};
use super::checks::{encoded, file_after, header, one_connection, response, two_connections, want};
use super::clients::{Got, Run, Step};
use super::servers::Kind;

/// Whether a server can produce a case.
#[derive(Clone, Copy, Debug)]
pub enum Support {
    /// Runs, with a note for the table where the server does it its own way.
    Run(Option<&'static str>),
    /// Cannot be produced by this server, for this reason.
    Na(&'static str),
}

/// One row of the matrix.
#[derive(Debug)]
pub struct Case {
    pub id: &'static str,
    /// A redirect's status code; 0 for other cases.
    pub code: u16,
    /// Response headers compared between the clients.
    pub compare: &'static [&'static str],
    pub steps: fn(&Case, Kind) -> Vec<Step>,
    pub support: fn(Kind) -> Support,
    pub check: fn(&Case, Kind, &Run) -> Result<(), String>,
}

impl Case {
    /// The table's cell for `kind` (the server test asserts the "agrees").
    pub fn cell(&self, kind: Kind) -> String {
        match (self.support)(kind) {
            Support::Run(None) => "agrees".into(),
            Support::Run(Some(note)) => format!("agrees ({note})"),
            Support::Na(why) => format!("n/a: {why}"),
        }
    }
}

const STATIC_NO_CUT: &str = "no config cuts a response mid-body";

pub fn all() -> Vec<Case> {
    let mut cases = vec![
        Case {
            id: "chunked",
            code: 0,
            compare: &["transfer-encoding"],
            steps: |_, _| vec![Step::get("/chunked"), Step::get("/file")],
            support: |k| match k {
                Kind::Nginx => Support::Run(Some("echo module output")),
                Kind::Apache => Support::Run(Some("mod_include output")),
                Kind::Lighttpd => Support::Na("sends files and config replies with a length"),
                Kind::Node => Support::Run(Some("with a trailer field")),
                _ => Support::Run(None),
            },
            check: |_, k, run| {
                let (status, body) = response(run, 0)?;
                want(status == 200, "status 200", status)?;
                want(
                    header(run, 0, "transfer-encoding") == "chunked",
                    "chunked",
                    &run.got[0],
                )?;
                if !k.is_static() {
                    want(body == digest(&bodies::text()), "the text", body)?;
                }
                file_after(run, 1)?;
                one_connection(run)
            },
        },
        Case {
            id: "chunk extensions and trailers",
            code: 0,
            compare: &["transfer-encoding"],
            steps: |_, _| vec![Step::get("/chunked-ext")],
            support: |k| match k {
                Kind::Node => Support::Run(Some("raw bytes on node's socket")),
                Kind::Gunicorn | Kind::Uvicorn => {
                    Support::Na("WSGI/ASGI apps cannot write chunk extensions")
                }
                _ => Support::Na("writes no chunk extensions"),
            },
            check: |_, _, run| {
                let (status, body) = response(run, 0)?;
                want(status == 200, "status 200", status)?;
                want(body == digest(&bodies::text()), "the text", body)
            },
        },
        Case {
            id: "gzip",
            code: 0,
            compare: &["content-encoding"],
            steps: |_, _| vec![Step::get("/gzip").header("accept-encoding", "gzip")],
            support: |_| Support::Run(None),
            check: |_, _, run| encoded(run, "gzip"),
        },
        Case {
            id: "deflate",
            code: 0,
            compare: &["content-encoding"],
            steps: |_, _| vec![Step::get("/deflate").header("accept-encoding", "deflate")],
            support: |k| match k {
                Kind::Nginx => Support::Na("its gzip module encodes gzip only"),
                Kind::Apache => Support::Na("mod_deflate encodes gzip only"),
                _ => Support::Run(None),
            },
            check: |_, _, run| encoded(run, "deflate"),
        },
        Case {
            id: "keep-alive",
            code: 0,
            compare: &[],
            steps: |_, _| vec![Step::get("/file"), Step::get("/file")],
            support: |_| Support::Run(None),
            check: |_, _, run| {
                file_after(run, 0)?;
                file_after(run, 1)?;
                one_connection(run)
            },
        },
        Case {
            id: "Connection: close",
            code: 0,
            compare: &[],
            steps: |_, _| {
                vec![
                    Step::get("/file").header("connection", "close"),
                    Step::get("/file"),
                ]
            },
            support: |_| Support::Run(None),
            check: |_, _, run| {
                file_after(run, 0)?;
                file_after(run, 1)?;
                two_connections(run)
            },
        },
        Case {
            id: "idle keep-alive closed by the server",
            code: 0,
            compare: &[],
            steps: |_, _| {
                let mut later = Step::get("/file");
                later.idle_before = Duration::from_secs(3);
                vec![Step::get("/file"), later]
            },
            support: |_| Support::Run(None),
            check: |_, _, run| {
                file_after(run, 0)?;
                file_after(run, 1)?;
                two_connections(run)
            },
        },
        Case {
            id: "100 Continue",
            code: 0,
            compare: &[],
            steps: |_, _| {
                let mut post = Step::get("/continue").header("expect", "100-continue");
                post.method = Method::POST;
                post.body = bodies::big()[..64 * 1024].to_vec();
                vec![post, Step::get("/file")]
            },
            support: |k| match k {
                Kind::Lighttpd => Support::Run(Some("final response at once, no 100")),
                _ => Support::Run(None),
            },
            check: |_, k, run| {
                let (status, body) = response(run, 0)?;
                want(status == 200, "status 200", status)?;
                let seen = &run.seen[0];
                want(
                    seen.method == "POST" && seen.length == "65536",
                    "a POST of 65536 bytes seen",
                    seen,
                )?;
                if k == Kind::Nginx || k == Kind::Apache {
                    want(body.len >= 65536, "the body echoed", body)?;
                }
                if !k.is_static() {
                    want(
                        seen.body.starts_with("65536:"),
                        "the app read the body",
                        seen,
                    )?;
                }
                file_after(run, 1)
            },
        },
        Case {
            id: "100 Continue refused (403 before the body)",
            code: 0,
            compare: &[],
            steps: |_, _| {
                let mut post = Step::get("/refuse").header("expect", "100-continue");
                post.method = Method::POST;
                post.body = bodies::big()[..64 * 1024].to_vec();
                vec![post, Step::get("/file")]
            },
            support: |k| match k {
                Kind::Gunicorn => Support::Na("sends 100 Continue before the app runs"),
                _ => Support::Run(None),
            },
            check: |_, k, run| {
                let (status, _) = response(run, 0)?;
                want(status == 403, "status 403", status)?;
                let seen = &run.seen[0];
                want(
                    seen.method == "POST" && seen.length == "65536",
                    "a POST of 65536 bytes announced",
                    seen,
                )?;
                if !k.is_static() {
                    want(seen.body == "-", "the app read no body", seen)?;
                }
                file_after(run, 1)
            },
        },
        Case {
            id: "HEAD",
            code: 0,
            compare: &["content-length"],
            steps: |_, _| {
                let mut head = Step::get("/file");
                head.method = Method::HEAD;
                vec![head, Step::get("/file")]
            },
            support: |_| Support::Run(None),
            check: |_, _, run| {
                let (status, body) = response(run, 0)?;
                want(
                    status == 200 && body.len == 0,
                    "200 without a body",
                    &run.got[0],
                )?;
                want(
                    header(run, 0, "content-length") == "2000",
                    "the file's length",
                    &run.got[0],
                )?;
                file_after(run, 1)?;
                one_connection(run)
            },
        },
        Case {
            id: "204",
            code: 0,
            compare: &[],
            steps: |_, _| vec![Step::get("/nocontent"), Step::get("/file")],
            support: |k| match k {
                Kind::Lighttpd => Support::Na("no directive answers 204 without a backend"),
                _ => Support::Run(None),
            },
            check: |_, _, run| {
                let (status, body) = response(run, 0)?;
                want(
                    status == 204 && body.len == 0,
                    "204 without a body",
                    &run.got[0],
                )?;
                file_after(run, 1)?;
                one_connection(run)
            },
        },
        Case {
            id: "304",
            code: 0,
            compare: &[],
            steps: |_, _| {
                vec![
                    Step::get("/file").header("if-modified-since", LAST_MODIFIED),
                    Step::get("/file"),
                ]
            },
            support: |_| Support::Run(None),
            check: |_, _, run| {
                let (status, body) = response(run, 0)?;
                want(
                    status == 304 && body.len == 0,
                    "304 without a body",
                    &run.got[0],
                )?;
                file_after(run, 1)?;
                one_connection(run)
            },
        },
        Case {
            id: "10 MB body",
            code: 0,
            compare: &[],
            steps: |_, _| vec![Step::get("/big")],
            support: |_| Support::Run(None),
            check: |_, _, run| {
                let (status, body) = response(run, 0)?;
                want(
                    status == 200 && body == digest(&bodies::big()),
                    "the 10 MiB body",
                    body,
                )
            },
        },
        Case {
            id: "trickled body",
            code: 0,
            compare: &[],
            steps: |_, _| vec![Step::get("/trickle")],
            support: |k| match k {
                Kind::Nginx => Support::Run(Some("limit_rate")),
                Kind::Apache => Support::Run(Some("mod_ratelimit")),
                Kind::Lighttpd => Support::Run(Some("connection.kbytes-per-second")),
                _ => Support::Run(None),
            },
            check: |_, k, run| {
                let (status, body) = response(run, 0)?;
                let expected = if k == Kind::Lighttpd {
                    digest(&bodies::big()[..48 * 1024])
                } else {
                    digest(&bodies::file())
                };
                want(status == 200 && body == expected, "the whole body", body)?;
                want(
                    run.elapsed[0] >= Duration::from_millis(800),
                    "a body that took at least 0.8 s",
                    run.elapsed[0],
                )
            },
        },
        Case {
            id: "connection cut mid-body",
            code: 0,
            compare: &[],
            steps: |_, _| vec![Step::get("/cut"), Step::get("/file")],
            support: |k| match k {
                Kind::Gunicorn => Support::Run(Some("the app raises mid-body")),
                Kind::Uvicorn => Support::Run(Some("the app raises mid-body")),
                Kind::Node => Support::Run(Some("res.destroy() mid-body")),
                _ => Support::Na(STATIC_NO_CUT),
            },
            check: |_, _, run| {
                want(
                    run.got[0] == Got::Cut,
                    "an error: the body was cut",
                    &run.got[0],
                )?;
                file_after(run, 1)
            },
        },
    ];
    for code in [301, 302, 303, 307, 308] {
        cases.push(Case {
            id: match code {
                301 => "redirect 301 (POST to GET)",
                302 => "redirect 302 (POST to GET)",
                303 => "redirect 303 (POST to GET)",
                307 => "redirect 307 (keeps POST and body)",
                _ => "redirect 308 (keeps POST and body)",
            },
            code,
            compare: &[],
            steps: |case, _| {
                let path = match case.code {
                    301 => "/redirect/301",
                    302 => "/redirect/302",
                    303 => "/redirect/303",
                    307 => "/redirect/307",
                    _ => "/redirect/308",
                };
                let mut post = Step::get(path);
                post.method = Method::POST;
                post.body = b"the posted body".to_vec();
                post.follow = true;
                vec![post]
            },
            support: |_| Support::Run(None),
            check: |case, k, run| {
                let Got::Response {
                    status,
                    path,
                    redirects,
                    ..
                } = &run.got[0]
                else {
                    return Err(format!("expected a response, got {:?}", run.got[0]));
                };
                want(
                    *status == 200 && path == "/echo" && *redirects == 1,
                    "200 from /echo after one redirect",
                    &run.got[0],
                )?;
                want(run.seen.len() == 2, "two requests seen", &run.seen)?;
                let first = &run.seen[0];
                want(
                    first.method == "POST" && first.length == "15",
                    "the POST",
                    first,
                )?;
                let keep = case.code >= 307;
                let second = &run.seen[1];
                let (method, length, body) = if keep {
                    ("POST", "15", "15:")
                } else {
                    ("GET", "-", "-")
                };
                want(
                    second.method == method
                        && second.length == length
                        && (k.is_static() || second.body.starts_with(body)),
                    &format!("{method} /echo with content-length {length}"),
                    second,
                )
            },
        });
    }
    cases.push(Case {
        id: "cookies",
        code: 0,
        compare: &[],
        steps: |_, _| {
            vec![
                Step::get("/cookies/set"),
                Step::get("/cookies/next"),
                Step::get("/next"),
            ]
        },
        support: |k| match k {
            Kind::Lighttpd => Support::Run(Some("one Set-Cookie: setenv repeats no header")),
            _ => Support::Run(None),
        },
        check: |_, k, run| {
            let (scoped, root) = if k == Kind::Lighttpd {
                ("dom=2", "dom=2")
            } else {
                (
                    "aged=4; dated=6; dom=2; httponly=9; plain=1; scoped=3",
                    "dom=2",
                )
            };
            want(run.seen.len() == 3, "three requests seen", &run.seen)?;
            want(run.seen[1].cookie == scoped, scoped, &run.seen[1])?;
            want(run.seen[2].cookie == root, root, &run.seen[2])
        },
    });
    cases
}
