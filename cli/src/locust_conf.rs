//! Locust's configuration file for `run` and `master`: `-c FILE` or
//! `--config FILE` (Locust's `locust.conf`, `key = value` lines with `#`
//! comments) becomes the flags it stands for, placed before the command
//! line's own so that those win, as in Locust. A key with no stampede
//! equivalent is refused with its file and line.

use std::ffi::OsString;

use crate::exit::{Failure, io, usage};

/// Locust's keys that take a value, and the flag each becomes.
const VALUED: &[(&str, &str)] = &[
    ("locustfile", "--file"),
    ("host", "--host"),
    ("users", "--users"),
    ("spawn-rate", "--spawn-rate"),
    ("run-time", "--run-time"),
    ("csv", "--csv"),
    ("html", "--html"),
    ("tags", "--tags"),
    ("exclude-tags", "--exclude-tags"),
    ("stop-timeout", "--stop-timeout"),
    ("expect-workers", "--expect-workers"),
    ("expect-workers-max-wait", "--expect-workers-max-wait"),
    ("exit-code-on-error", "--exit-code-on-error"),
    ("web-host", "--web-host"),
    ("web-port", "--web-port"),
];

/// Locust's switches (`key = true`), and the flag each becomes.
const SWITCHES: &[(&str, &str)] = &[
    ("headless", "--headless"),
    ("only-summary", "--only-summary"),
    ("csv-full-history", "--csv-full-history"),
    ("insecure", "--insecure"),
];

/// The command line with a `-c`/`--config` file of `run` or `master`
/// expanded into flags.
///
/// # Errors
///
/// An unreadable file, or a line that is not `key = value` or has no
/// equivalent.
pub fn expand(args: Vec<OsString>) -> Result<Vec<OsString>, Failure> {
    let is_cmd = |a: &OsString| a == "run" || a == "master";
    let Some(cmd) = args.iter().position(is_cmd) else {
        return Ok(args);
    };
    let mut out: Vec<OsString> = args[..=cmd].to_vec();
    let mut rest = Vec::new();
    let mut from_file = Vec::new();
    let mut it = args[cmd + 1..].iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        let path = if s == "-c" || s == "--config" {
            match it.next() {
                Some(p) => p.to_string_lossy().into_owned(),
                None => return Err(usage(format!("{s} needs a file (Locust's locust.conf)"))),
            }
        } else if let Some(p) = s.strip_prefix("--config=") {
            p.to_owned()
        } else {
            rest.push(a.clone());
            continue;
        };
        from_file.extend(read(&path)?);
    }
    out.extend(from_file);
    out.extend(rest);
    Ok(out)
}

fn read(path: &str) -> Result<Vec<OsString>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| usage(io(path, &e)))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('[') {
            continue;
        }
        let at = format!("{path}:{}", i + 1);
        let Some((key, value)) = line.split_once('=') else {
            return Err(usage(format!("{at}: expected `key = value`, got `{line}`")));
        };
        let (key, value) = (key.trim().replace('_', "-"), value.trim());
        if let Some((_, flag)) = VALUED.iter().find(|(k, _)| *k == key) {
            out.push(OsString::from(*flag));
            out.push(OsString::from(value));
        } else if let Some((_, flag)) = SWITCHES.iter().find(|(k, _)| *k == key) {
            match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => out.push(OsString::from(*flag)),
                "false" | "0" | "no" => {}
                other => {
                    return Err(usage(format!(
                        "{at}: `{key}` is true or false, not `{other}`"
                    )));
                }
            }
        } else {
            return Err(usage(format!(
                "{at}: `{key}` has no stampede equivalent (see `stampede run --help`)"
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_config_file_becomes_flags_before_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("locust.conf");
        std::fs::write(
            &conf,
            "# a comment\n[locust]\nlocustfile = x.py\nheadless = true\nonly_summary = false\nusers = 5\nspawn-rate = 2\n",
        )
        .unwrap();
        let c = conf.to_str().unwrap();
        let got = expand(os(&["stampede", "run", "-c", c, "-u", "7"])).unwrap();
        assert_eq!(
            got,
            os(&[
                "stampede",
                "run",
                "--file",
                "x.py",
                "--headless",
                "--users",
                "5",
                "--spawn-rate",
                "2",
                "-u",
                "7"
            ])
        );
        std::fs::write(&conf, "users = 5\nprocesses = 4\n").unwrap();
        let e = expand(os(&["stampede", "master", &format!("--config={c}")])).unwrap_err();
        assert_eq!(
            e.message,
            format!("{c}:2: `processes` has no stampede equivalent (see `stampede run --help`)")
        );
        let e = expand(os(&["stampede", "run", "-c", "/nope/locust.conf"])).unwrap_err();
        assert!(
            e.message.starts_with("/nope/locust.conf: no such file"),
            "{}",
            e.message
        );
        assert_eq!(
            expand(os(&["stampede", "check", "-f", "x"])).unwrap(),
            os(&["stampede", "check", "-f", "x"])
        );
    }
}
