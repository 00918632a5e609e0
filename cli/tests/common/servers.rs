//! Real servers from apt, started by the tests on loopback: nginx (HTTP/2
//! over TLS with a certificate made here, HTTP/1.1 over TLS and in
//! cleartext) and tinyproxy. Neither takes a listening socket from us, so
//! each gets ports that were free a moment before (bound on port 0 and
//! released); a start that loses that race exits, and is retried on new
//! ports. A server is ready when its ports accept connections. `.ci/run`
//! installs both (apt: nginx-light, tinyproxy).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port free on 127.0.0.1 just now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until every port accepts a connection; false when `child` exits
/// first (a port taken meanwhile) or after 10 s.
fn ready(child: &mut Child, ports: &[u16]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut wait = Duration::from_millis(5);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let up = ports.iter().all(|p| {
            let addr = SocketAddr::from(([127, 0, 0, 1], *p));
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        });
        if up {
            return true;
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(100));
    }
    false
}

/// Starts `make(ports)` on `n` fresh ports until it comes up (five tries).
fn start_on_free_ports(
    n: usize,
    what: &str,
    mut make: impl FnMut(&[u16]) -> Command,
) -> (Child, Vec<u16>) {
    for _ in 0..5 {
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut child = make(&ports)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} (.ci/run installs it from apt): {e}"));
        if ready(&mut child, &ports) {
            return (child, ports);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{what} did not come up on free ports in five tries");
}

/// A temporary directory with a certificate, nginx serving `locations`
/// with it, and a scenario file `s.yaml`.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub certs: Certs,
    pub nginx: Nginx,
}

impl Site {
    pub fn start(locations: &str, scenario: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let certs = Certs::make(dir.path());
        let nginx = Nginx::start(dir.path(), &certs, locations);
        std::fs::write(dir.path().join("s.yaml"), scenario).unwrap();
        Self { dir, certs, nginx }
    }

    /// The scenario file.
    pub fn scenario(&self) -> PathBuf {
        self.dir.path().join("s.yaml")
    }
}

/// A certificate for `localhost` and 127.0.0.1 (self-signed: the tests
/// trust it with `--ca-cert`), written to `dir`.
pub struct Certs {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Certs {
    pub fn make(dir: &Path) -> Self {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        Self { cert, key }
    }
}

/// nginx on three ports: `h2` (TLS offering h2 and http/1.1 by ALPN),
/// `tls1` (TLS, http/1.1 only) and `plain` (cleartext HTTP/1.1 only), all
/// serving `locations`; its access log has one line per request, fields
/// `$server_protocol $connection $ssl_session_reused $status $request_uri
/// $gzip_ratio $http_via` (the last one has spaces).
pub struct Nginx {
    child: Child,
    pub h2: u16,
    pub tls1: u16,
    pub plain: u16,
    log: PathBuf,
}

impl Nginx {
    pub fn start(dir: &Path, certs: &Certs, locations: &str) -> Self {
        let log = dir.join("access.log");
        let (child, ports) = start_on_free_ports(3, "nginx", |p| {
            let conf = dir.join("nginx.conf");
            let d = dir.display();
            let (cert, key) = (certs.cert.display(), certs.key.display());
            let server = |listen: String| {
                format!(
                    "server {{ listen {listen}; ssl_certificate {cert}; ssl_certificate_key {key}; \
                     ssl_session_tickets on; keepalive_requests 100000; {locations} }}\n"
                )
            };
            let text = format!(
                "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;\n\
                 error_log {d}/error.log;\n\
                 events {{ worker_connections 4096; }}\n\
                 http {{\n\
                 log_format t '$server_protocol $connection $ssl_session_reused $status $request_uri $gzip_ratio $http_via';\n\
                 access_log {d}/access.log t;\n\
                 client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;\n\
                 uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
                 gzip on; gzip_min_length 1; gzip_types application/json text/plain;\n\
                 {}{}{}}}\n",
                server(format!("127.0.0.1:{} ssl http2", p[0])),
                server(format!("127.0.0.1:{} ssl", p[1])),
                server(format!("127.0.0.1:{}", p[2])),
            );
            std::fs::write(&conf, text).unwrap();
            let mut c = Command::new("nginx");
            c.args(["-e", &format!("{d}/error.log"), "-p", &d.to_string(), "-c"])
                .arg(&conf)
                .stderr(Stdio::null());
            c
        });
        Self {
            child,
            h2: ports[0],
            tls1: ports[1],
            plain: ports[2],
            log,
        }
    }

    /// The access log's lines so far, split into their fields.
    pub fn requests(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(' ').map(str::to_owned).collect())
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tinyproxy on loopback, with basic credentials when given; its log
/// records every request and CONNECT.
pub struct Tinyproxy {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Tinyproxy {
    pub fn start(dir: &Path, credentials: Option<(&str, &str)>) -> Self {
        let log = dir.join("tinyproxy.log");
        let (child, ports) = start_on_free_ports(1, "tinyproxy", |p| {
            let conf = dir.join("tinyproxy.conf");
            let auth = credentials
                .map(|(u, pw)| format!("BasicAuth {u} {pw}\n"))
                .unwrap_or_default();
            let text = format!(
                "User root\nGroup root\nPort {}\nListen 127.0.0.1\nTimeout 30\n\
                 LogFile \"{}\"\nLogLevel Connect\nMaxClients 200\nAllow 127.0.0.1\n{auth}",
                p[0],
                log.display()
            );
            std::fs::write(&conf, text).unwrap();
            let mut c = Command::new("tinyproxy");
            c.args(["-d", "-c"])
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            c
        });
        Self {
            child,
            port: ports[0],
            log,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails, showing the log, unless the log has `what`.
    pub fn assert_logged(&self, what: &str) {
        let log = self.log();
        assert!(log.contains(what), "no `{what}` in the proxy's log:\n{log}");
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
