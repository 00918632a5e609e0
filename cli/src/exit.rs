//! How a command ends: the exit codes (0 ok, 1 a threshold or a request
//! failed, 2 usage or scenario errors, 3 the run could not run) and
//! [`Failure`], a failed command's code and one-line message.

use std::process::ExitCode;

use stampede_master::MasterError;

/// Exit code 1: a threshold failed.
pub const EXIT_THRESHOLD: u8 = 1;
/// Exit code 2: usage or scenario errors.
pub const EXIT_USAGE: u8 = 2;
/// Exit code 3: the run could not run.
pub const EXIT_CANNOT_RUN: u8 = 3;

/// A command that failed, with its exit code and a one-line message.
#[derive(Debug)]
pub struct Failure {
    /// The process's exit code.
    pub code: u8,
    /// What went wrong, lowercase, one line.
    pub message: String,
}

impl Failure {
    /// Prints the failure as one line on stderr and returns its exit code.
    pub fn exit(self) -> ExitCode {
        eprintln!("error: {}", self.message);
        ExitCode::from(self.code)
    }
}

/// A usage or scenario error (exit 2).
pub fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_USAGE,
        message: message.into(),
    }
}

/// The run could not run (exit 3).
pub fn cannot_run(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_CANNOT_RUN,
        message: message.into(),
    }
}

/// An I/O error as a message: lowercase, after `what`.
pub fn io(what: &str, e: &std::io::Error) -> String {
    format!("{what}: {}", e.to_string().to_lowercase())
}

impl From<MasterError> for Failure {
    fn from(e: MasterError) -> Self {
        match &e {
            MasterError::Plan(_) => usage(e.to_string()),
            _ => cannot_run(e.to_string()),
        }
    }
}
