//! Server configuration: one JSON file or flags, with defaults that run on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ServerError;

/// How the server runs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Directory of the server's database, keys and lists (created if missing).
    pub data_dir: PathBuf,
    /// Address to listen on; loopback by default (port 0: any free port).
    pub bind: SocketAddr,
    /// Largest request body accepted, in bytes (documents travel in bodies).
    pub max_body_bytes: usize,
    /// Requests a client (a user, a professional key, else an address) may make per minute.
    pub requests_per_minute: u32,
    /// Key professionals' software presents (`Authorization: Bearer …`) to deposit documents
    /// and messages. Empty: a random key is made and written to `data_dir/professional.key`.
    pub professional_key: String,
    /// Code a device presents to open an account without a card, for the tests of the layers
    /// below the card (network, sync, load). `None` (the default, and what `carnet server`
    /// runs): `/v1/enrol/test` does not exist, accounts come with the card's enrolment.
    pub test_enrolment_code: Option<String>,
    /// How long a device token lasts, in seconds.
    pub token_lifetime_secs: u64,
    /// Seconds a client has to send a request's head (request line and headers).
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may go without a byte read or written before it is closed.
    pub idle_timeout_secs: u64,
    /// Connections open at once; past it a new connection is closed at once.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: PathBuf::from("carnet-server-data"),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_body_bytes: 48 * 1024 * 1024,
            requests_per_minute: 1200,
            professional_key: String::new(),
            test_enrolment_code: None,
            token_lifetime_secs: 30 * 24 * 3600,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 512,
        }
    }
}

/// The code [`ServerConfig::with_test_enrolment`] enables.
pub const TEST_ENROLMENT_CODE: &str = "carnet-test-enrolment";

impl ServerConfig {
    /// The defaults, with the data in `data_dir`.
    #[must_use]
    pub fn at(data_dir: &Path) -> Self {
        ServerConfig {
            data_dir: data_dir.to_path_buf(),
            ..ServerConfig::default()
        }
    }

    /// The defaults with `/v1/enrol/test` enabled under [`TEST_ENROLMENT_CODE`]: for the tests
    /// of the network, sync and load, which run below the card.
    #[must_use]
    pub fn with_test_enrolment() -> Self {
        ServerConfig {
            test_enrolment_code: Some(TEST_ENROLMENT_CODE.to_owned()),
            ..ServerConfig::default()
        }
    }

    /// The bounds on each connection this configuration sets.
    pub fn connection_limits(&self) -> crate::serve::ConnectionLimits {
        crate::serve::ConnectionLimits {
            header_read: std::time::Duration::from_secs(self.header_read_timeout_secs),
            idle: std::time::Duration::from_secs(self.idle_timeout_secs),
            max_connections: self.max_connections,
        }
    }

    /// Reads a configuration file (JSON, every field optional).
    pub fn from_file(path: &Path) -> Result<Self, ServerError> {
        let bytes = carnet_codec::bounded::read_file(path, 1024 * 1024, "server configuration")
            .map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))
    }

    /// Checks what a file or flags cannot express.
    pub(crate) fn check(&self) -> Result<(), ServerError> {
        if self.requests_per_minute == 0
            || self.max_body_bytes < 1024
            || self.max_connections == 0
            || self.header_read_timeout_secs == 0
            || self.idle_timeout_secs == 0
        {
            return Err(ServerError::Config("limits must allow some traffic".into()));
        }
        if self
            .test_enrolment_code
            .as_ref()
            .is_some_and(|code| code.len() < 8)
        {
            return Err(ServerError::Config(
                "the test enrolment code is too short".into(),
            ));
        }
        Ok(())
    }
}
