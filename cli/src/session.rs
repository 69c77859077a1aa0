//! Opening the core for one command: data directory, platform services, log output.

use std::path::PathBuf;
use std::sync::Arc;

use crate::exit::Exit;
use carnet::{
    Carnet, Clock, FileKeyVault, HealthRecord, LogLevel, LogRecord, LogSink, RecordUnlock,
    Services, SystemClock,
};

/// Options every command shares.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--data-dir`, when given.
    pub data_dir: Option<PathBuf>,
    /// `--verbose`.
    pub verbose: bool,
    /// `--store`, when given.
    pub store: Option<PathBuf>,
}

/// Why a command could not open the core.
#[derive(Debug)]
pub enum SessionError {
    /// No data directory given and none could be derived from the environment.
    NoDataDir,
    /// The core refused to open.
    Core(carnet::CarnetError),
    /// A file or directory could not be read.
    Io(String),
    /// The arguments do not make sense together.
    Usage(String),
    /// A file named on the command line could not be used: too large, unreadable, not text.
    File {
        /// The file, as given.
        path: PathBuf,
        /// What is wrong with it.
        error: carnet::CarnetError,
    },
}

impl SessionError {
    /// How the command ends with this error.
    pub fn exit(&self) -> Exit {
        match self {
            SessionError::Core(error) | SessionError::File { error, .. } => {
                crate::exit::of_error_kind(error.kind())
            }
            SessionError::Usage(_) => Exit::Usage,
            SessionError::NoDataDir | SessionError::Io(_) => Exit::Failed,
        }
    }
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::NoDataDir => {
                f.write_str("no data directory: pass --data-dir or set CARNET_HOME or HOME")
            }
            SessionError::Core(error) => write!(f, "{error} [{}]", error.code()),
            SessionError::Io(message) => f.write_str(message),
            SessionError::Usage(message) => write!(f, "usage: {message}"),
            SessionError::File { path, error } => {
                write!(f, "{}: {error} [{}]", path.display(), error.code())
            }
        }
    }
}

impl std::error::Error for SessionError {}

impl From<carnet::CarnetError> for SessionError {
    fn from(error: carnet::CarnetError) -> Self {
        SessionError::Core(error)
    }
}

/// Writes log records to standard error.
struct StderrSink;

impl LogSink for StderrSink {
    fn log(&self, record: LogRecord) {
        let level = match record.level {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warning",
            LogLevel::Error => "error",
        };
        errln!("[{level}] {}: {}", record.target, record.message);
    }
}

/// The data directory: `--data-dir`, `$CARNET_HOME`, `$XDG_DATA_HOME/carnet` or
/// `~/.local/share/carnet`, in that order.
pub fn data_dir(options: &Options) -> Result<PathBuf, SessionError> {
    let from_env = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    options
        .data_dir
        .clone()
        .or_else(|| from_env("CARNET_HOME"))
        .or_else(|| from_env("XDG_DATA_HOME").map(|d| d.join("carnet")))
        .or_else(|| from_env("HOME").map(|h| h.join(".local/share/carnet")))
        .ok_or(SessionError::NoDataDir)
}

/// Opens the core on `dir` with the desktop services: system clock (or `clock`), file key
/// vault under `dir/vault`, warnings (or, with `--verbose`, debug records) on stderr.
pub fn open_at(
    options: &Options,
    dir: PathBuf,
    clock: Arc<dyn Clock>,
) -> Result<Carnet, SessionError> {
    let vault = FileKeyVault::open(dir.join("vault")).map_err(carnet::CarnetError::from)?;
    let services = Services {
        clock,
        vault: Arc::new(vault),
        log_sink: Some(Arc::new(StderrSink)),
        min_log_level: if options.verbose {
            LogLevel::Debug
        } else {
            LogLevel::Warn
        },
        data_dir: dir,
    };
    Ok(Carnet::open(services)?)
}

/// Opens the core on the configured data directory with the system clock.
pub fn open(options: &Options) -> Result<Carnet, SessionError> {
    open_at(options, data_dir(options)?, Arc::new(SystemClock))
}

/// Opens the core, and names the record's directory: `--store`, else `record` in the data
/// directory.
pub fn open_with_store(options: &Options) -> Result<(Carnet, PathBuf), SessionError> {
    let carnet = open(options)?;
    let dir = options.store.clone().unwrap_or_else(|| carnet.record_dir());
    Ok((carnet, dir))
}

/// Opens the health record with the passphrase from `$CARNET_PASSPHRASE` or a prompt.
pub fn open_record(options: &Options) -> Result<HealthRecord, SessionError> {
    Ok(open_core_and_record(options)?.1)
}

/// Like [`open_record`], keeping the core too (to reach the national services).
pub fn open_core_and_record(options: &Options) -> Result<(Carnet, HealthRecord), SessionError> {
    let (carnet, dir) = open_with_store(options)?;
    if !carnet.record_exists(&dir) {
        return Err(SessionError::Usage(format!(
            "no record in {}: create one with `carnet record init --store DIR`",
            dir.display()
        )));
    }
    let passphrase = passphrase("CARNET_PASSPHRASE", "Record passphrase: ")?;
    let record = carnet.open_record(&dir, &RecordUnlock::Passphrase { passphrase })?;
    Ok((carnet, record))
}

/// A new passphrase: from the environment variable `variable`, or typed twice.
pub fn new_passphrase(variable: &str) -> Result<RecordUnlock, SessionError> {
    if let Some(value) = from_environment(variable) {
        return Ok(RecordUnlock::Passphrase { passphrase: value });
    }
    let first = passphrase(variable, "New passphrase (12 characters or more): ")?;
    let second = passphrase(variable, "The same again: ")?;
    if first != second {
        return Err(SessionError::Usage("the two passphrases differ".into()));
    }
    Ok(RecordUnlock::Passphrase { passphrase: first })
}

/// Asks a yes/no question on the terminal.
pub fn confirm(question: &str) -> Result<bool, SessionError> {
    errout!("{question}");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| SessionError::Io(format!("cannot read the answer: {e}")))?;
    Ok(answer.trim() == "yes")
}

fn from_environment(variable: &str) -> Option<String> {
    std::env::var(variable).ok().filter(|v| !v.is_empty())
}

fn passphrase(variable: &str, prompt: &str) -> Result<String, SessionError> {
    if let Some(value) = from_environment(variable) {
        return Ok(value);
    }
    rpassword::prompt_password(prompt).map_err(|e| {
        SessionError::Usage(format!(
            "no terminal to ask for the passphrase ({e}): set ${variable}"
        ))
    })
}
