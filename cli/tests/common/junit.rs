//! JUnit files read back by junitparser (PyPI, in the virtualenv `.ci/run`
//! makes under target/), as the tests of `--junit` check them.

use std::path::Path;

use serde_json::Value;

/// Each test case of a JUnit file as junitparser (PyPI, in the venv
/// `.ci/run` makes) reads it: suite, classname, name, and the failure's
/// message (null when it passed).
pub fn junit_cases(file: &Path) -> Value {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ci-venv/bin/python");
    let script = "import json, sys, junitparser\n\
        xml = junitparser.JUnitXml.fromfile(sys.argv[1])\n\
        out = []\n\
        for suite in xml:\n\
        \x20   for case in suite:\n\
        \x20       fail = [r.message for r in case.result if isinstance(r, junitparser.Failure)]\n\
        \x20       out.append([suite.name, suite.tests, suite.failures, case.classname, case.name, fail[0] if fail else None])\n\
        print(json.dumps(out))\n";
    let out = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; the JUnit test needs junitparser in target/ci-venv (.ci/run installs it)",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "junitparser: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
