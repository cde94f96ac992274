//! One error type for the commands: a sentence for the user and an exit code.

use std::fmt;
use std::path::Path;

/// What went wrong, as one clear sentence, and which exit code it maps to.
#[derive(Debug)]
pub struct Error {
    message: String,
    kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad command-line usage or invalid configuration (exit 2).
    Usage,
    /// An input file that cannot be read or is not what it claims to be (exit 1).
    Input,
    /// Anything else at run time (exit 1).
    Runtime,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Self { message: message.into(), kind: ErrorKind::Usage }
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self { message: message.into(), kind: ErrorKind::Input }
    }
    pub fn runtime(message: impl Into<String>) -> Self {
        Self { message: message.into(), kind: ErrorKind::Runtime }
    }
    /// An I/O failure on a named file.
    pub fn io(path: &Path, err: std::io::Error) -> Self {
        Self::input(format!("{}: {err}", path.display()))
    }
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Usage => 2,
            ErrorKind::Input | ErrorKind::Runtime => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
