//! [`NationalServices`]: the app's link to the national services — the card's enrolment (in
//! `card`, which opens the health-space account), the record's sync with the health space, and
//! the DCC lists' updates — over the network layer of `carnet-net` (retries with backoff,
//! device-signed requests).
//!
//! Every call is async and owns no runtime: the CLI runs it on tokio, the bindings on UniFFI's
//! tokio bridge.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use carnet_certs::{RevocationList, RuleList, TrustList, ValueSets, parse_anchor};
use carnet_net::{Client, Credential, NetConfig, NetError};
use carnet_record::{PullReport, PushReport, RecordError};
use tracing::instrument::WithSubscriber;

use crate::files::{read_kept_file, storage, write_by_rename};
use crate::health_record::HealthRecord;
use crate::verifier_lists::VerifierLists;
use crate::{CarnetError, KeyVault};

/// Directory of the cached signed lists, in the data directory.
pub(crate) const LISTS_DIR: &str = "lists";

/// Which part of a sync is under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStage {
    /// Bringing down what changed in the health space (`done`/`total`: feed positions).
    Pull,
    /// Sending what this device queued (`done`/`total`: queued entries).
    Push,
}

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncReport {
    /// What came down.
    pub pull: PullReport,
    /// What went up.
    pub push: PushReport,
    /// Changes still queued on this device after the sync (0 unless the server refused some).
    pub still_pending: u64,
}

/// What a lists update found.
#[derive(Debug, Clone)]
pub struct ListsUpdate {
    /// The lists to verify with: the newest held, downloaded now or earlier.
    pub lists: VerifierLists,
    /// Whether a newer trust list came down now.
    pub trust_changed: bool,
    /// Whether a newer revocation list came down now.
    pub revocation_changed: bool,
    /// Whether newer business rules came down now.
    pub rules_changed: bool,
    /// Whether newer value sets came down now.
    pub value_sets_changed: bool,
    /// Whether the services could be reached (false: the cached lists are returned, as old as
    /// they are; the verifier policy decides whether they are still good enough).
    pub reached: bool,
}

/// The national services at one address.
pub struct NationalServices {
    pub(crate) client: Client,
    pub(crate) vault: Arc<dyn KeyVault>,
    pub(crate) dispatch: tracing::Dispatch,
    lists_dir: PathBuf,
    pub(crate) data_dir: PathBuf,
}

impl std::fmt::Debug for NationalServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NationalServices")
            .field("lists_dir", &self.lists_dir)
            .finish_non_exhaustive()
    }
}

impl NationalServices {
    pub(crate) fn new(
        base_url: &str,
        pinned_keys: &[carnet_net::KeyPin],
        vault: Arc<dyn KeyVault>,
        dispatch: tracing::Dispatch,
        data_dir: &Path,
    ) -> Result<Self, CarnetError> {
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(CarnetError::Network(NetError::Protocol(format!(
                "not an http(s) address: {base_url}"
            ))));
        }
        let mut config = NetConfig::new(base_url);
        config.pinned_keys = pinned_keys.to_vec();
        Ok(NationalServices {
            client: Client::new(config)?,
            vault,
            dispatch,
            lists_dir: data_dir.join(LISTS_DIR),
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The user id this device is enrolled as, if it is.
    ///
    /// # Errors
    /// [`CarnetError::Platform`] when the key vault fails, [`CarnetError::Network`] for a
    /// damaged credential.
    pub fn enrolled_user(&self) -> Result<Option<String>, CarnetError> {
        Ok(Credential::load(self.vault.as_ref())?.map(|c| c.user_id().to_owned()))
    }

    /// The software device key of this installation (see [`crate::SoftwareDeviceKey`]).
    ///
    /// # Errors
    /// [`CarnetError::Platform`], [`CarnetError::CorruptVaultEntry`].
    pub fn software_device_key(&self) -> Result<crate::SoftwareDeviceKey, CarnetError> {
        crate::SoftwareDeviceKey::load_or_create(self.vault.as_ref())
    }

    /// Syncs `record` with the health space: pull, then push. Interrupted (offline, app
    /// killed), it resumes on the next call with nothing lost or doubled.
    ///
    /// # Errors
    /// [`CarnetError::Network`] (`NotEnrolled`, offline after retries, refused),
    /// [`CarnetError::Record`].
    pub async fn sync_record(
        &self,
        record: &HealthRecord,
        progress: &mut (dyn FnMut(SyncStage, carnet_record::Progress) + Send),
    ) -> Result<SyncReport, CarnetError> {
        let credential = self.credential()?;
        let record = &record.record;
        let work = async {
            let pull = record
                .pull(&self.client, &credential, &mut |p| {
                    progress(SyncStage::Pull, p);
                })
                .await?;
            let push = record
                .push(&self.client, &credential, &mut |p| {
                    progress(SyncStage::Push, p);
                })
                .await?;
            Ok::<_, RecordError>(SyncReport {
                pull,
                push,
                still_pending: record.pending_sync_count()?,
            })
        };
        work.with_subscriber(self.dispatch.clone())
            .await
            .map_err(network_first)
    }

    /// Brings the DCC trust and revocation lists, business rules and value sets up to date
    /// (conditional requests: an unchanged list costs a `304`), verifies them against
    /// `anchor` (the key the app ships with; PEM or DER), refuses a list older than the one
    /// held, and keeps them in the data directory for offline use. Offline, returns the lists
    /// already held.
    ///
    /// # Errors
    /// [`CarnetError::Certs`] for a list that does not verify or goes back in time;
    /// [`CarnetError::Network`] when offline with no list held yet; [`CarnetError::Storage`].
    pub async fn update_lists(&self, anchor: &[u8]) -> Result<ListsUpdate, CarnetError> {
        let key = parse_anchor(anchor)?;
        // Every list's requests and logs go to this services' subscriber.
        let refreshed = async {
            let trust = self
                .refresh(
                    "trust",
                    |bytes| TrustList::open(bytes, &key),
                    |l| l.header().version,
                )
                .await?;
            let revocation = self
                .refresh(
                    "revocation",
                    |bytes| RevocationList::open(bytes, &key),
                    |l| l.header().version,
                )
                .await?;
            let rules = self
                .refresh(
                    "rules",
                    |bytes| RuleList::open(bytes, &key),
                    |l| l.header().version,
                )
                .await?;
            let value_sets = self
                .refresh(
                    "valuesets",
                    |bytes| ValueSets::open(bytes, &key),
                    |l| l.header().map_or(0, |h| h.version),
                )
                .await?;
            Ok::<_, CarnetError>((trust, revocation, rules, value_sets))
        };
        let (trust, revocation, rules, value_sets) =
            refreshed.with_subscriber(self.dispatch.clone()).await?;
        let reached = trust.reached && revocation.reached && rules.reached && value_sets.reached;
        let (trust_changed, revocation_changed, rules_changed, value_sets_changed) = (
            trust.changed,
            revocation.changed,
            rules.changed,
            value_sets.changed,
        );
        let lists = VerifierLists::from_parts(
            trust.list,
            Some(revocation.list),
            Some(rules.list),
            value_sets.list,
        );
        // Kept beside the lists it verified, so that verifier mode can check them offline.
        write_by_rename(
            &self.lists_dir.join(crate::verifier_lists::ANCHOR_FILE),
            anchor,
        )?;
        Ok(ListsUpdate {
            lists,
            trust_changed,
            revocation_changed,
            rules_changed,
            value_sets_changed,
            reached,
        })
    }

    /// One list, verified and read once: the cached copy, replaced by a newer verified one
    /// when the server has it.
    async fn refresh<L>(
        &self,
        name: &str,
        open: impl Fn(&[u8]) -> Result<L, carnet_certs::CertsError>,
        version_of: impl Fn(&L) -> u64,
    ) -> Result<Refreshed<L>, CarnetError> {
        let cache = FileCache::new(
            self.lists_dir.join(format!("{name}.signed")),
            carnet_certs::MAX_LIST_BYTES,
        );
        let held = cache.load()?;
        let etag = held.as_ref().map(|(_, etag)| etag.as_str());
        let response = match self
            .client
            .get_conditional(&format!("/v1/lists/{name}"), etag)
            .await
        {
            Ok(response) => response,
            Err(NetError::Offline(reason)) => {
                let (bytes, _) = held.ok_or(CarnetError::Network(NetError::Offline(reason)))?;
                tracing::info!(list = name, "offline: the list held is used");
                return Ok(Refreshed {
                    list: open(&bytes)?,
                    changed: false,
                    reached: false,
                });
            }
            Err(other) => return Err(other.into()),
        };
        if response.status == 304 {
            if let Some((bytes, _)) = held {
                return Ok(Refreshed {
                    list: open(&bytes)?,
                    changed: false,
                    reached: true,
                });
            }
            return Err(NetError::Protocol("304 for a list not held".into()).into());
        }
        let list = open(&response.body)?;
        let version = version_of(&list);
        if let Some((old, _)) = &held {
            let old_version = version_of(&open(old)?);
            if version < old_version {
                return Err(carnet_certs::CertsError::List(format!(
                    "the server's {name} list (version {version}) is older than the one held ({old_version})"
                ))
                .into());
            }
        }
        cache.store(&response.body, response.etag.as_deref().unwrap_or_default())?;
        tracing::info!(list = name, version, "list updated");
        Ok(Refreshed {
            list,
            changed: true,
            reached: true,
        })
    }

    pub(crate) fn credential(&self) -> Result<Credential, CarnetError> {
        Credential::load(self.vault.as_ref())?.ok_or(CarnetError::Network(NetError::NotEnrolled))
    }
}

/// A list after a refresh.
struct Refreshed<L> {
    list: L,
    changed: bool,
    reached: bool,
}

/// A downloaded file and its ETag, kept as two files (`<name>.<ext>`, `<name>.etag`) written
/// by rename so that a crash leaves the old pair or the new one.
pub(crate) struct FileCache {
    list: PathBuf,
    etag: PathBuf,
    max_bytes: usize,
}

/// Longest ETag kept (servers send a few dozen characters).
const MAX_ETAG_BYTES: usize = 1024;

impl FileCache {
    /// The pair for `path`, whose file is never read past `max_bytes`.
    pub(crate) fn new(path: PathBuf, max_bytes: usize) -> Self {
        FileCache {
            etag: path.with_extension("etag"),
            list: path,
            max_bytes,
        }
    }

    pub(crate) fn load(&self) -> Result<Option<(Vec<u8>, String)>, CarnetError> {
        let Some(bytes) = read_kept_file(&self.list, self.max_bytes)? else {
            return Ok(None);
        };
        // A missing or damaged ETag only costs a full download.
        let etag = read_kept_file(&self.etag, MAX_ETAG_BYTES)
            .ok()
            .flatten()
            .and_then(|etag| String::from_utf8(etag).ok())
            .unwrap_or_default();
        Ok(Some((bytes, etag)))
    }

    /// Deletes the pair (the ETag first: a crash in between leaves a file without one).
    pub(crate) fn remove(&self) -> Result<(), CarnetError> {
        for path in [&self.etag, &self.list] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(storage(path, &e)),
            }
        }
        Ok(())
    }

    pub(crate) fn store(&self, bytes: &[u8], etag: &str) -> Result<(), CarnetError> {
        if let Some(dir) = self.list.parent() {
            std::fs::create_dir_all(dir).map_err(|e| storage(dir, &e))?;
        }
        // The old ETag goes first: a crash in between leaves a list without one, which only
        // costs a full download next time.
        let _ = std::fs::remove_file(&self.etag);
        write_by_rename(&self.list, bytes)?;
        write_by_rename(&self.etag, etag.as_bytes())
    }
}

/// A record error that is a network one is reported as such.
fn network_first(error: RecordError) -> CarnetError {
    match error {
        RecordError::Network(e) => CarnetError::Network(e),
        other => CarnetError::Record(other),
    }
}
