//! The reference server on a free 127.0.0.1 port, its data in a temporary directory that
//! lives as long as it does, with the test enrolment enabled; and a device enrolled on it.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use carnet_net::{Client, Credential, NetConfig};
use carnet_platform::{KeyVault, MemoryKeyVault};
pub use carnet_server::TEST_ENROLMENT_CODE;
use carnet_server::{RunningServer, ServerConfig};
use tempfile::TempDir;

/// A running reference server and the directory its data lives in. Dereferences to the
/// [`RunningServer`].
pub struct TestServer {
    running: RunningServer,
    stopped: StoppedServer,
}

/// A stopped [`TestServer`]: its data kept, ready to start again on the same address.
pub struct StoppedServer {
    config: ServerConfig,
    data: TempDir,
}

impl TestServer {
    /// The server with the test enrolment enabled and every other setting at its default.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// The server with the test enrolment enabled, after `adjust` has changed the
    /// configuration (a body limit, a rate, the test enrolment turned off...). The data directory and the loopback address
    /// are set here.
    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let data = tempfile::tempdir().expect("a temporary directory");
        Self::start_in(data, adjust).await
    }

    /// As [`TestServer::start_with`], its data in `data`, which the test may have prepared
    /// (a key copied from another server...).
    pub async fn start_in(data: TempDir, adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let mut config = ServerConfig::with_test_enrolment();
        adjust(&mut config);
        config.data_dir = data.path().to_path_buf();
        config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        StoppedServer { config, data }.start().await
    }

    /// Its base URL (`http://127.0.0.1:port`).
    pub fn url(&self) -> String {
        format!("http://{}", self.running.address())
    }

    /// The directory its database, keys and lists are in.
    pub fn data_dir(&self) -> &std::path::Path {
        self.stopped.data.path()
    }

    /// The configuration it runs with (its data directory, its address).
    pub fn config(&self) -> &ServerConfig {
        &self.stopped.config
    }

    /// Stops it, waiting for the requests in flight; its data stays.
    pub async fn stop(self) -> StoppedServer {
        self.running.stop().await.expect("the server stops");
        self.stopped
    }

    /// A device (a fresh in-memory key vault) enrolled on it by the test enrolment, its client
    /// with the default network settings.
    pub async fn enrol_device(&self) -> EnrolledDevice {
        self.enrol_device_with(NetConfig::new(self.url())).await
    }

    /// A device enrolled on it, its client with `net` (retries, timeouts...).
    pub async fn enrol_device_with(&self, net: NetConfig) -> EnrolledDevice {
        let client = Client::new(net).expect("a client for the loopback server");
        let vault: Arc<dyn KeyVault> = Arc::new(MemoryKeyVault::new());
        let credential = client
            .enrol(vault.as_ref(), TEST_ENROLMENT_CODE)
            .await
            .expect("the test enrolment succeeds");
        EnrolledDevice {
            client,
            vault,
            credential,
        }
    }
}

impl Deref for TestServer {
    type Target = RunningServer;
    fn deref(&self) -> &RunningServer {
        &self.running
    }
}

impl StoppedServer {
    /// Starts it again with the same data, on the same address once it has had one.
    pub async fn start(self) -> TestServer {
        let running = RunningServer::start(self.config.clone())
            .await
            .expect("the reference server starts on loopback");
        let mut stopped = self;
        stopped.config.bind = running.address();
        TestServer { running, stopped }
    }
}

/// A device enrolled on the reference server: its client, its key vault and the credential
/// kept there.
pub struct EnrolledDevice {
    /// The client it talks to the server with.
    pub client: Client,
    /// Its key vault, holding the credential.
    pub vault: Arc<dyn KeyVault>,
    /// The credential the enrolment gave.
    pub credential: Credential,
}

impl EnrolledDevice {
    /// Its client, key vault and credential, for a test to hold as three names.
    pub fn into_parts(self) -> (Client, Arc<dyn KeyVault>, Credential) {
        (self.client, self.vault, self.credential)
    }
}
