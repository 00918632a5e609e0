//! The real servers of the conformance matrix, started on 127.0.0.1 with a
//! temporary directory each: nginx, Apache httpd and lighttpd (apt) serving
//! files and config, gunicorn and uvicorn (PyPI, in `target/ci-venv`) and
//! Node's `http` module running the apps in `apps/`. None of them takes a
//! listening socket from us, so each gets a port that was free a moment
//! before (bound on port 0 and released); a start that loses that race
//! exits, and is retried on a new port. A server is ready when its port
//! accepts connections; it is killed (its whole process group) on drop.
//!
//! Every server writes one line per request it saw to `seen.log`, fields
//! separated by `|`: remote port, method, path, request `Content-Length`,
//! `Cookie`, and (apps only) the body's `length:sha256`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::bodies;

/// The servers of the matrix, in the table's column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Nginx,
    Apache,
    Lighttpd,
    Gunicorn,
    Uvicorn,
    Node,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Nginx,
        Kind::Apache,
        Kind::Lighttpd,
        Kind::Gunicorn,
        Kind::Uvicorn,
        Kind::Node,
    ];

    /// Its name in the docs' table.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Apache => "apache",
            Kind::Lighttpd => "lighttpd",
            Kind::Gunicorn => "gunicorn",
            Kind::Uvicorn => "uvicorn",
            Kind::Node => "node",
        }
    }

    /// Serves files and config only (no app of ours).
    pub fn is_static(self) -> bool {
        matches!(self, Kind::Nginx | Kind::Apache | Kind::Lighttpd)
    }
}

/// The workspace's root (the worker crate's parent).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The apps' directory.
fn apps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/apps")
}

/// `name` on PATH, in `extra` directories, or a failure saying how to
/// install it (CI installs it in `.ci/run`: the matrix never skips).
fn find(name: &str, extra: &[PathBuf], install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = extra
        .iter()
        .cloned()
        .chain(std::env::split_paths(&path))
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{name}` is not installed (the conformance matrix needs it; .ci/run installs it): {install}"
    );
}

/// A port free on 127.0.0.1 just now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `port` accepts a connection; false when `child` exits first
/// (the port was taken meanwhile) or after 20 s.
fn ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut wait = Duration::from_millis(5);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(100));
    }
    false
}

/// A running server; killed on drop.
#[derive(Debug)]
pub struct Server {
    pub port: u16,
    child: Child,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `kind` on a free port (five tries).
    pub fn start(kind: Kind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        if kind.is_static() {
            docroot(&dir.path().join("root"), kind);
        }
        let log = dir.path().join("seen.log");
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = command(kind, dir.path(), port);
            cmd.env("CONFORMANCE_LOG", &log)
                .stdin(Stdio::null())
                .stdout(Stdio::from(
                    std::fs::File::create(dir.path().join("stdout.log")).unwrap(),
                ))
                .stderr(Stdio::from(
                    std::fs::File::create(dir.path().join("stderr.log")).unwrap(),
                ))
                .process_group(0);
            let mut child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", kind.name()));
            if ready(&mut child, port) {
                return Self {
                    port,
                    child,
                    log,
                    dir,
                };
            }
            kill_group(&mut child);
        }
        let err = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
        panic!(
            "{} did not come up on a free port in five tries; its stderr:\n{err}",
            kind.name()
        );
    }

    /// The requests the server logged so far.
    pub fn seen(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The requests logged after the first `from`, once there are at least
    /// `count` of them (lighttpd writes its log about once a second), or
    /// those there are after 10 s.
    pub fn seen_since(&self, from: usize, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.seen();
            if lines.len() >= from + count || Instant::now() >= deadline {
                return lines.into_iter().skip(from).collect();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server printed, for failure messages.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// Kills `child`'s process group (gunicorn's workers with their master).
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// The files of a static server: the apps' bodies under the apps' paths,
/// with a fixed modification time (for `If-Modified-Since`).
fn docroot(root: &Path, kind: Kind) {
    let files: [(&str, Vec<u8>); 11] = [
        ("file", bodies::file()),
        ("gzip", bodies::text()),
        ("deflate", bodies::text()),
        ("big", bodies::big()),
        // lighttpd throttles per second: a small file goes out at once.
        (
            "trickle",
            if kind == Kind::Lighttpd {
                bodies::big()[..48 * 1024].to_vec()
            } else {
                bodies::file()
            },
        ),
        ("echo", b"ok".to_vec()),
        ("continue", b"ok".to_vec()),
        ("refuse", b"ok".to_vec()),
        ("next", b"ok".to_vec()),
        ("cookies/set", b"ok".to_vec()),
        ("cookies/next", b"ok".to_vec()),
    ];
    for (name, data) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(bodies::last_modified())
            .unwrap();
    }
    std::fs::write(
        root.join("chunked"),
        "chunked <!--#echo var=\"DOCUMENT_URI\" --> by mod_include\n",
    )
    .unwrap();
}

/// The command that runs `kind` on `port` from `dir`, its config written.
fn command(kind: Kind, dir: &Path, port: u16) -> Command {
    let d = dir.display();
    let venv = workspace().join("target/ci-venv/bin");
    let pip = "python3 -m venv target/ci-venv && \
               target/ci-venv/bin/pip install gunicorn==27.0.1 uvicorn==0.54.0";
    match kind {
        Kind::Nginx => {
            let bin = find("nginx", &[], "apt-get install nginx-light");
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, nginx_conf(&d.to_string(), port)).unwrap();
            let mut c = Command::new(bin);
            c.arg("-p").arg(dir).arg("-e").arg(dir.join("error.log"));
            c.arg("-c").arg(conf);
            c
        }
        Kind::Apache => {
            let bin = find("apache2", &[], "apt-get install apache2");
            let conf = dir.join("httpd.conf");
            std::fs::write(&conf, apache_conf(&d.to_string(), port)).unwrap();
            let mut c = Command::new(bin);
            c.arg("-X").arg("-f").arg(conf);
            c
        }
        Kind::Lighttpd => {
            let bin = find(
                "lighttpd",
                &[],
                "apt-get install lighttpd lighttpd-mod-deflate",
            );
            if !Path::new("/usr/lib/lighttpd/mod_deflate.so").is_file() {
                panic!(
                    "lighttpd's mod_deflate is not installed (the conformance matrix needs it; \
                     .ci/run installs it): apt-get install lighttpd-mod-deflate"
                );
            }
            let conf = dir.join("lighttpd.conf");
            std::fs::write(&conf, lighttpd_conf(&d.to_string(), port)).unwrap();
            let mut c = Command::new(bin);
            c.arg("-D").arg("-f").arg(conf);
            c
        }
        Kind::Gunicorn => {
            let mut c = Command::new(find("gunicorn", &[venv], pip));
            c.args([
                "-w",
                "1",
                "-k",
                "gthread",
                "--threads",
                "8",
                "--keep-alive",
                "1",
            ])
            .args([
                "--graceful-timeout",
                "1",
                "-b",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--chdir")
            .arg(apps())
            .arg("app:wsgi");
            c
        }
        Kind::Uvicorn => {
            let mut c = Command::new(find("uvicorn", &[venv], pip));
            c.args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--timeout-keep-alive", "1", "--no-access-log", "--app-dir"])
                .arg(apps())
                .arg("app:asgi");
            c
        }
        Kind::Node => {
            let mut c = Command::new(find("node", &[], "node 20 (apt-get install nodejs)"));
            c.arg(apps().join("app.js")).arg(port.to_string());
            c
        }
    }
}

/// Cookies the static servers set (as the apps do, less what a config
/// cannot say).
pub const STATIC_COOKIES: [&str; 10] = [
    "plain=1",
    "dom=2; Domain=conformance.test; Path=/",
    "scoped=3; Path=/cookies",
    "aged=4; Max-Age=3600",
    "zero=5; Max-Age=0",
    "dated=6; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
    "expired=7; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "secure=8; Secure",
    "httponly=9; HttpOnly",
    "foreign=10; Domain=elsewhere.test",
];

/// lighttpd's `setenv` cannot repeat a header name: one cookie, with every
/// attribute it can carry.
pub const LIGHTTPD_COOKIE: &str = "dom=2; Domain=conformance.test; Path=/; Max-Age=3600; Expires=Wed, 21 Oct 2037 07:28:00 GMT; HttpOnly";

fn nginx_conf(d: &str, port: u16) -> String {
    let cookies: String = STATIC_COOKIES
        .iter()
        .map(|c| format!("add_header Set-Cookie \"{c}\"; "))
        .collect();
    let redirects: String = [301, 302, 303, 307, 308]
        .iter()
        .map(|c| format!("location = /redirect/{c} {{ return {c} /echo; }}\n"))
        .collect();
    format!(
        "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;\n\
         load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;\n\
         error_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         log_format seen '$remote_port|$request_method|$request_uri|$http_content_length|$http_cookie|-';\n\
         access_log {d}/seen.log seen;\n\
         client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;\n\
         uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         default_type text/plain; keepalive_timeout 1s; keepalive_requests 1000;\n\
         server {{\n\
         listen 127.0.0.1:{port}; root {d}/root;\n\
         location = /gzip {{ gzip on; gzip_min_length 1; gzip_types text/plain; }}\n\
         location = /chunked {{ echo \"first part\"; echo_flush; echo \"second part\"; }}\n\
         location = /echo {{ echo_read_request_body; echo $request_method; echo_request_body; }}\n\
         location = /continue {{ echo_read_request_body; echo $request_method; echo_request_body; }}\n\
         location = /trickle {{ limit_rate 1k; }}\n\
         location = /nocontent {{ return 204; }}\n\
         location = /refuse {{ return 403; }}\n\
         location = /cookies/set {{ {cookies}}}\n\
         {redirects}}}\n}}\n"
    )
}

fn apache_conf(d: &str, port: u16) -> String {
    let m =
        |name: &str| format!("LoadModule {name}_module /usr/lib/apache2/modules/mod_{name}.so\n");
    let modules: String = [
        "mpm_event",
        "authz_core",
        "mime",
        "alias",
        "headers",
        "deflate",
        "filter",
        "ratelimit",
        "reflector",
        "include",
        "env",
    ]
    .iter()
    .map(|n| m(n))
    .collect();
    let cookies: String = STATIC_COOKIES
        .iter()
        .map(|c| format!("  Header always add Set-Cookie \"{c}\"\n"))
        .collect();
    let redirects: String = [301, 302, 303, 307, 308]
        .iter()
        .map(|c| format!("Redirect {c} /redirect/{c} /echo\n"))
        .collect();
    format!(
        "ServerRoot \"{d}\"\nPidFile {d}/httpd.pid\nDefaultRuntimeDir {d}\n\
         Listen 127.0.0.1:{port}\nServerName conformance.test\n{modules}\
         TypesConfig /dev/null\nErrorLog {d}/error.log\n\
         LogFormat \"%{{remote}}p|%m|%U%q|%{{Content-Length}}i|%{{Cookie}}i|-\" seen\n\
         CustomLog {d}/seen.log seen\n\
         DocumentRoot {d}/root\n\
         KeepAlive On\nKeepAliveTimeout 1\nMaxKeepAliveRequests 0\n\
         StartServers 1\nServerLimit 1\nThreadsPerChild 16\nMaxRequestWorkers 16\n\
         <Directory {d}/root>\n  Require all granted\n  ForceType text/plain\n</Directory>\n\
         <Location /gzip>\n  SetOutputFilter DEFLATE\n</Location>\n\
         <Location /trickle>\n  SetOutputFilter RATE_LIMIT\n  SetEnv rate-limit 1\n</Location>\n\
         <Location /echo>\n  <If \"%{{REQUEST_METHOD}} == 'POST'\">\n    SetHandler reflector\n  </If>\n</Location>\n\
         <Location /continue>\n  SetHandler reflector\n</Location>\n\
         <Location /chunked>\n  Options +Includes\n  SetOutputFilter INCLUDES\n</Location>\n\
         <Location /cookies/set>\n{cookies}</Location>\n\
         <Location /refuse>\n  Require all denied\n</Location>\n\
         Redirect 204 /nocontent\n{redirects}"
    )
}

fn lighttpd_conf(d: &str, port: u16) -> String {
    let redirects: String = [301, 302, 303, 307, 308]
        .iter()
        .map(|c| {
            format!(
                "$HTTP[\"url\"] == \"/redirect/{c}\" {{ url.redirect = (\"\" => \"/echo\") \
                 url.redirect-code = {c} }}\n"
            )
        })
        .collect();
    format!(
        "server.document-root = \"{d}/root\"\nserver.port = {port}\nserver.bind = \"127.0.0.1\"\n\
         server.errorlog = \"{d}/error.log\"\n\
         server.modules = (\"mod_access\", \"mod_deflate\", \"mod_redirect\", \"mod_setenv\", \"mod_accesslog\")\n\
         accesslog.filename = \"{d}/seen.log\"\n\
         accesslog.format = \"%{{remote}}p|%m|%U|%{{Content-Length}}i|%{{Cookie}}i|-\"\n\
         server.max-keep-alive-idle = 1\n\
         mimetype.assign = (\"\" => \"text/plain\")\n\
         $HTTP[\"url\"] == \"/gzip\" {{ deflate.mimetypes = (\"text/plain\") deflate.allowed-encodings = (\"gzip\") }}\n\
         $HTTP[\"url\"] == \"/deflate\" {{ deflate.mimetypes = (\"text/plain\") deflate.allowed-encodings = (\"deflate\") }}\n\
         $HTTP[\"url\"] == \"/refuse\" {{ url.access-deny = (\"\") }}\n\
         $HTTP[\"url\"] == \"/trickle\" {{ connection.kbytes-per-second = 16 }}\n\
         $HTTP[\"url\"] == \"/cookies/set\" {{ setenv.add-response-header = (\"Set-Cookie\" => \"{LIGHTTPD_COOKIE}\") }}\n\
         {redirects}"
    )
}
