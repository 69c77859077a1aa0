//! The command's exit codes, all in one place (the README lists them).
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also: standard output closed early by its reader) |
//! | 1 | the input was checked and refused: an invalid NIR, an invalid certificate, a file too large |
//! | 2 | usage: arguments that do not make sense (an unknown option, an impossible date) |
//! | 3 | the command could not do its work: an unreadable file, an unusable data directory, a full disk, the network |
//! | 4 | what Carnet cannot confirm: a certificate whose offline lists are too old or missing, a remote reader's verdict it did not sign |

use std::process::ExitCode;

use carnet::ErrorKind;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It did what was asked.
    Success,
    /// The input was checked and refused.
    Refused,
    /// The arguments do not make sense (clap uses this code too).
    Usage,
    /// The command could not do its work.
    Failed,
    /// A certificate whose validity cannot be confirmed offline, or a remote reader's
    /// verdict not signed by the reader that asked.
    CannotConfirm,
}

impl From<Exit> for u8 {
    fn from(exit: Exit) -> u8 {
        match exit {
            Exit::Success => 0,
            Exit::Refused => 1,
            Exit::Usage => 2,
            Exit::Failed => 3,
            Exit::CannotConfirm => 4,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(u8::from(exit))
    }
}

/// The exit of a core error, by its class: refused input is the person's to correct, the
/// rest (storage, platform, network, damaged data) is the command's failure.
pub fn of_error_kind(kind: ErrorKind) -> Exit {
    match kind {
        ErrorKind::InvalidInput => Exit::Refused,
        ErrorKind::PlatformUnavailable
        | ErrorKind::PlatformDenied
        | ErrorKind::CorruptData
        | ErrorKind::Storage
        | ErrorKind::Offline
        | ErrorKind::Refused => Exit::Failed,
    }
}
