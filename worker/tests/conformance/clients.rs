//! A case's steps run as one user through stampede's `HttpClient` (one
//! session) and through one curl invocation (`--next` between steps: one
//! connection cache and one cookie engine, as one user), each into a
//! [`Run`]: what the client got per step and what the server saw, in a form
//! the two clients' runs can be compared in.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use stampede_common::run::Resolve;
use stampede_worker::http::{ClientOptions, HttpClient, HttpError, Request};
use url::Url;

use super::bodies::{Digest, digest};
use super::servers::Server;

/// The name both clients use for the server (resolved to 127.0.0.1, as
/// curl's `--resolve`): cookies with a `Domain` need a name.
pub const HOST: &str = "conformance.test";

/// Each step's limit.
const STEP_LIMIT: Duration = Duration::from_secs(30);

/// One request of a case.
#[derive(Clone, Debug)]
pub struct Step {
    pub method: Method,
    pub path: &'static str,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Vec<u8>,
    pub follow: bool,
    /// How long the connection stays idle before this step.
    pub idle_before: Duration,
}

impl Step {
    pub fn get(path: &'static str) -> Self {
        Self {
            method: Method::GET,
            path,
            headers: Vec::new(),
            body: Vec::new(),
            follow: false,
            idle_before: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// What a client got from one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Got {
    Response {
        status: u16,
        /// The final path, after redirects.
        path: String,
        redirects: u32,
        /// The body, decoded (gzip, deflate).
        body: Digest,
        /// The case's compared response headers (`-` when absent).
        headers: Vec<(String, String)>,
    },
    /// The body was cut short by the server's close: stampede's
    /// `ConnectionClosed`, curl's exit 18.
    Cut,
    Failed(String),
}

/// One request as the server logged it; `conn` numbers the connections
/// (by remote port) in the order they first appear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub conn: usize,
    pub method: String,
    pub path: String,
    pub length: String,
    /// The `Cookie` header's pairs, sorted.
    pub cookie: String,
    /// `length:sha256` of the body the app read (`-` from static servers).
    pub body: String,
}

/// A client's run of a case.
#[derive(Debug)]
pub struct Run {
    pub got: Vec<Got>,
    pub elapsed: Vec<Duration>,
    /// Filled in by [`Run::take_seen`] once the server's log has them.
    pub seen: Vec<Seen>,
}

impl Run {
    /// What is compared between the clients (not the timings).
    pub fn comparable(&self) -> (&[Got], &[Seen]) {
        (&self.got, &self.seen)
    }

    /// How many requests the server should have logged for this run.
    pub fn requests(&self) -> usize {
        self.got
            .iter()
            .map(|g| match g {
                Got::Response { redirects, .. } => *redirects as usize + 1,
                _ => 1,
            })
            .sum()
    }

    /// Takes this run's requests from the front of the server's log lines
    /// (the runs' requests are logged in the order they were made).
    pub fn take_seen(&mut self, lines: &mut std::slice::Iter<'_, String>) {
        let mine: Vec<String> = lines.take(self.requests()).cloned().collect();
        self.seen = normalize(&mine);
    }
}

fn url(server: &Server, path: &str) -> String {
    format!("http://{HOST}:{}{path}", server.port)
}

fn lookup(headers: &[(String, String)], names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| {
            let value = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map_or("-", |(_, v)| v.as_str());
            ((*n).to_owned(), value.to_owned())
        })
        .collect()
}

/// The steps through stampede's client, one session.
pub fn stampede(server: &Server, steps: &[Step], compare: &[&str]) -> Run {
    let mut opts = ClientOptions::default();
    let resolve: Resolve = format!("{HOST}:{}:127.0.0.1", server.port).parse().unwrap();
    opts.network.resolve.push(resolve);
    let client = HttpClient::new(opts).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (got, elapsed) = rt.block_on(async {
        let mut session = client.session();
        let (mut got, mut elapsed) = (Vec::new(), Vec::new());
        for step in steps {
            tokio::time::sleep(step.idle_before).await;
            let mut req = Request::new(
                step.method.clone(),
                Url::parse(&url(server, step.path)).unwrap(),
            );
            for (name, value) in &step.headers {
                req.headers.append(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            req.body = Bytes::from(step.body.clone());
            req.follow_redirects = step.follow;
            req.timeout = Some(STEP_LIMIT);
            let start = Instant::now();
            let result = session.send(req).await;
            elapsed.push(start.elapsed());
            got.push(match result {
                Ok(resp) => {
                    let headers: Vec<(String, String)> = resp
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.to_string(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect();
                    Got::Response {
                        status: resp.status.as_u16(),
                        path: resp.url.path().to_owned(),
                        redirects: resp.redirects,
                        body: digest(&resp.body),
                        headers: lookup(&headers, compare),
                    }
                }
                Err(HttpError::ConnectionClosed) => Got::Cut,
                Err(e) => Got::Failed(e.to_string()),
            });
        }
        (got, elapsed)
    });
    Run {
        got,
        elapsed,
        seen: Vec::new(),
    }
}

/// The steps through one curl invocation.
pub fn curl(server: &Server, steps: &[Step], compare: &[&str], dir: &Path) -> Run {
    let mut cmd = Command::new("curl");
    if steps.iter().any(|s| !s.idle_before.is_zero()) {
        // At most one transfer started per 3 s: the connection idles between them.
        cmd.args(["--rate", "20/m"]);
    }
    let mut header_fmt = String::new();
    for name in compare {
        header_fmt.push_str(&format!("|%header{{{name}}}"));
    }
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            cmd.arg("--next");
        }
        let out = dir.join(format!("body-{i}"));
        let _ = std::fs::remove_file(&out);
        cmd.args(["-s", "-b", "", "--max-time", "30", "-o"])
            .arg(&out)
            .arg("--resolve")
            .arg(format!("{HOST}:{}:127.0.0.1", server.port))
            .arg("-w")
            .arg(format!(
                "##%{{http_code}}|%{{num_redirects}}|%{{url_effective}}|%{{exitcode}}|%{{time_total}}{header_fmt}\\n"
            ));
        if step.follow {
            cmd.args(["-L", "--max-redirs", "10"]);
        }
        if step.method == Method::HEAD {
            cmd.arg("--head");
        } else if step.method != Method::GET && step.method != Method::POST {
            cmd.args(["-X", step.method.as_str()]);
        }
        if !step.body.is_empty() {
            let file = dir.join(format!("request-{i}"));
            std::fs::write(&file, &step.body).unwrap();
            cmd.arg("--data-binary").arg(format!("@{}", file.display()));
        }
        for (name, value) in &step.headers {
            cmd.arg("-H").arg(format!("{name}: {value}"));
            if name.eq_ignore_ascii_case("accept-encoding") {
                cmd.arg("--compressed");
            }
        }
        cmd.arg(url(server, step.path));
    }
    let output = cmd
        .output()
        .expect("cannot run curl (apt-get install curl)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("##"))
        .collect();
    assert_eq!(
        lines.len(),
        steps.len(),
        "curl wrote one line per transfer: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (mut got, mut elapsed) = (Vec::new(), Vec::new());
    for (i, (line, step)) in lines.iter().zip(steps).enumerate() {
        let fields: Vec<&str> = line.split('|').collect();
        let code: u32 = fields[3].parse().unwrap();
        elapsed.push(Duration::from_secs_f64(fields[4].parse().unwrap()));
        got.push(match code {
            0 => {
                let body = if step.method == Method::HEAD {
                    Vec::new()
                } else {
                    std::fs::read(dir.join(format!("body-{i}"))).unwrap_or_default()
                };
                let headers = compare
                    .iter()
                    .zip(&fields[5..])
                    .map(|(n, v)| {
                        (
                            (*n).to_owned(),
                            if v.is_empty() { "-" } else { v }.to_owned(),
                        )
                    })
                    .collect();
                Got::Response {
                    status: fields[0].parse().unwrap(),
                    path: Url::parse(fields[2]).unwrap().path().to_owned(),
                    redirects: fields[1].parse().unwrap(),
                    body: digest(&body),
                    headers,
                }
            }
            18 => Got::Cut,
            code => Got::Failed(format!("curl exit {code}")),
        });
    }
    Run {
        got,
        elapsed,
        seen: Vec::new(),
    }
}

/// Parses the server's log lines, numbering connections by remote port.
fn normalize(lines: &[String]) -> Vec<Seen> {
    let mut conns: HashMap<String, usize> = HashMap::new();
    lines
        .iter()
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            assert_eq!(f.len(), 6, "a log line of six fields: {line}");
            let next = conns.len();
            let conn = *conns.entry(f[0].to_owned()).or_insert(next);
            let mut cookie: Vec<&str> = f[4].split(';').map(str::trim).collect();
            cookie.sort_unstable();
            Seen {
                conn,
                method: f[1].to_owned(),
                path: f[2].to_owned(),
                length: f[3].to_owned(),
                cookie: cookie.join("; "),
                body: f[5].to_owned(),
            }
        })
        .collect()
}
