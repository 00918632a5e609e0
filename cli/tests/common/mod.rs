//! What the binary's tests share: commands for the built `stampede`, seed
//! scenario paths, a `stampede shop` process on a free loopback port, and
//! HTML pages as Python's parser reads them (`html`).

#![allow(dead_code)]

pub mod html;
pub mod junit;
pub mod servers;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `stampede` for `assert_cmd` checks (quiet logs, bounded in time).
pub fn stampede() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_stampede"));
    c.env("RUST_LOG", "warn").timeout(Duration::from_secs(120));
    for var in PROXY_VARS {
        c.env_remove(var);
    }
    c
}

/// The environment's proxy settings: no test takes them from the machine.
pub const PROXY_VARS: [&str; 6] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// `stampede` as a plain process, to spawn and signal.
pub fn stampede_process() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stampede"));
    c.env("RUST_LOG", "warn");
    for var in PROXY_VARS {
        c.env_remove(var);
    }
    c
}

/// Path of a seed scenario.
pub fn scenario(name: &str) -> String {
    format!("{}/../scenarios/{name}.yaml", env!("CARGO_MANIFEST_DIR"))
}

/// A `stampede shop` process on a free port; killed on drop.
pub struct ShopProcess {
    child: Child,
    pub url: String,
}

impl ShopProcess {
    pub fn start(extra: &[&str]) -> Self {
        let mut child = stampede_process()
            .args(["shop", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Readiness: the shop prints its address once it listens.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("shop listening on ")
            .expect(&line)
            .to_owned();
        Self { child, url }
    }

    /// Requests the shop served so far (`GET /_stats`).
    pub fn served(&self) -> u64 {
        let stats: serde_json::Value = reqwest::blocking::get(format!("{}/_stats", self.url))
            .unwrap()
            .json()
            .unwrap();
        stats["served"].as_u64().unwrap()
    }
}

impl Drop for ShopProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The request count in the summary's first line
/// (`scenario NAME against HOST: N users for T, R requests, ...`).
pub fn summary_count(stdout: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("scenario "))
        .expect(stdout);
    let before = line.split(" requests,").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// `stampede` with info logs (the master says where it listens), no colour.
pub fn logged_stampede() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stampede"));
    c.env("RUST_LOG", "info").env("NO_COLOR", "1");
    for var in PROXY_VARS {
        c.env_remove(var);
    }
    c
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a master's stderr (piped) until it says where it listens; the rest
/// of stderr is drained in the background.
pub fn master_addr(child: &mut Child) -> String {
    master_addr_and_log(child).0
}

/// [`master_addr`], and the thread that drains the rest of stderr: joined,
/// it gives all that the master logged after it started listening.
pub fn master_addr_and_log(child: &mut Child) -> (String, std::thread::JoinHandle<String>) {
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut logged = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the master exited before listening"
        );
        logged.push_str(&line);
        if let Some(rest) = line.split("addr=").nth(1)
            && line.contains("master listening for workers")
        {
            let addr = rest.split_whitespace().next().unwrap().to_owned();
            let drain = std::thread::spawn(move || {
                let _ = reader.read_to_string(&mut logged);
                logged
            });
            return (addr, drain);
        }
    }
}

/// `stampede worker --id ID` joining the master at `addr`.
pub fn worker_process(addr: &str, id: &str) -> Killed {
    Killed(
        logged_stampede()
            .args(["worker", "--master", addr, "--id", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}
