//! Errors of the core crate, in one voice: lowercase, no final period, user input in backticks.

use std::fmt;

/// A place in a file that a message points at (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// The file's name as the user gave it, or a label such as `<inline>`.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem found in a policy document, with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyDiagnostic {
    /// Where in the file (when it could be located).
    pub location: Option<Location>,
    /// The dotted path of the offending element, e.g. `checks.settings[2].severity`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{} in {loc}", self.message)?,
            None => write!(f, "{}", self.message)?,
        }
        if !self.path.is_empty() {
            write!(f, " (at `{}`)", self.path)?;
        }
        Ok(())
    }
}

/// Every problem found in one policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The diagnostics, in document order; never empty.
    pub diagnostics: Vec<PolicyDiagnostic>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        if n == 1 {
            write!(f, "invalid policy: {}", self.diagnostics[0])
        } else {
            write!(f, "invalid policy ({n} problems):")?;
            for d in &self.diagnostics {
                write!(f, "\n  - {d}")?;
            }
            Ok(())
        }
    }
}

impl std::error::Error for PolicyError {}

/// The core crate's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy document is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A file could not be read or written.
    #[error("cannot access `{path}`: {source}")]
    Io {
        /// The path.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An ARN could not be parsed.
    #[error("invalid ARN `{arn}`: {reason}")]
    Arn {
        /// The text given.
        arn: String,
        /// Why it is not an ARN.
        reason: String,
    },
    /// A record of an inventory could not be understood.
    #[error("{location}: {message}")]
    Input {
        /// Where, e.g. `inventory.ndjson:12` or `inventory.ndjson:12:7`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A resource source failed.
    #[error("source `{source_name}` failed: {message}")]
    Source {
        /// The source's name.
        source_name: String,
        /// What went wrong.
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
    },
    /// The engine was configured wrongly.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether the same call may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Source { retryable, .. } => *retryable,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }
}

/// The core crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
