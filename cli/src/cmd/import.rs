//! `stampede import`: a locustfile into a scenario, and the same on the fly
//! for `run -f locustfile.py`. What could not be translated is listed on
//! stderr with file:line:col; exit 1 when anything was left out (0 when
//! everything translated), 2 with `--strict`.

use std::io::Read;
use std::process::ExitCode;

use crate::args::ImportArgs;
use crate::exit::{Failure, io, usage};

fn read(file: &str) -> Result<String, Failure> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| usage(io("<stdin>", &e)))?;
        return Ok(text);
    }
    std::fs::read_to_string(file).map_err(|e| usage(io(file, &e)))
}

fn convert(file: &str) -> Result<stampede_import::Imported, Failure> {
    let text = read(file)?;
    let shown = if file == "-" { "<stdin>" } else { file };
    let name = std::path::Path::new(shown)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("imported");
    let imported = stampede_import::import(shown, name, &text).map_err(|e| usage(e.to_string()))?;
    for u in &imported.untranslated {
        eprintln!(
            "{shown}:{}:{}: untranslated: {} ({})",
            u.line, u.col, u.source, u.reason
        );
    }
    Ok(imported)
}

/// Runs `stampede import`.
///
/// # Errors
///
/// An unreadable file, Python that does not parse, no user class, an
/// output that cannot be written, or (`--strict`) anything untranslated.
pub fn import(args: &ImportArgs) -> Result<ExitCode, Failure> {
    let imported = convert(&args.file)?;
    let left = imported.untranslated.len();
    if args.strict && left > 0 {
        return Err(usage(format!(
            "{left} construct(s) of {} could not be translated (--strict); nothing written",
            args.file
        )));
    }
    match &args.output {
        Some(path) => std::fs::write(path, &imported.yaml)
            .map_err(|e| usage(io(&path.display().to_string(), &e)))?,
        None => print!("{}", imported.yaml),
    }
    if left > 0 {
        eprintln!("{left} construct(s) could not be translated: they are comments in the scenario");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The scenario of a locustfile given to `run -f`, saying so on stderr.
///
/// # Errors
///
/// As [`import`] without `--strict`.
pub fn import_on_the_fly(file: &str) -> Result<String, Failure> {
    eprintln!(
        "{file} is a locustfile: converting it on the fly (`stampede import {file} -o scenario.yaml` writes the scenario to read and edit)"
    );
    Ok(convert(file)?.yaml)
}
