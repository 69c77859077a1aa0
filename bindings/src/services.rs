//! The `NationalServices` object: enrolment, the record's sync and the DCC lists' updates, as
//! async calls (Kotlin `suspend` functions, Python coroutines) run on UniFFI's tokio bridge.

use std::sync::Arc;

use carnet::record::{PullReport, PushReport};
use carnet::{SyncReport, SyncStage};

use crate::record::HealthRecord;
use crate::{CarnetError, VerifierLists};

/// Which part of a sync is under way.
#[uniffi::remote(Enum)]
pub enum SyncStage {
    Pull,
    Push,
}

/// What came down in a sync.
#[uniffi::remote(Record)]
pub struct PullReport {
    pub documents: u32,
    pub messages: u32,
    pub profile_items: u32,
    pub already_there: u32,
    pub cursor: i64,
}

/// What went up in a sync.
#[uniffi::remote(Record)]
pub struct PushReport {
    pub documents: u32,
    pub refused_documents: u32,
    pub accepted: u32,
    pub superseded: u32,
}

/// What a sync did.
#[uniffi::remote(Record)]
pub struct SyncReport {
    pub pull: PullReport,
    pub push: PushReport,
    pub still_pending: u64,
}

/// Hears a sync's progress (called from a background thread).
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    /// `done` of `total` in `stage` (feed positions when pulling, queued entries when pushing).
    fn on_progress(&self, stage: SyncStage, done: u64, total: u64);
}

/// What a lists update found.
#[derive(uniffi::Record)]
pub struct ListsUpdate {
    /// The lists to verify with (the newest held).
    pub lists: Arc<VerifierLists>,
    /// A newer trust list came down now.
    pub trust_changed: bool,
    /// A newer revocation list came down now.
    pub revocation_changed: bool,
    /// The services answered (false: offline, the lists held are returned).
    pub reached: bool,
}

/// The national services at one address.
#[derive(uniffi::Object)]
pub struct NationalServices(pub(crate) carnet::NationalServices);

#[uniffi::export(async_runtime = "tokio")]
impl NationalServices {
    /// The user id this device is enrolled as, if it is.
    pub fn enrolled_user(&self) -> Result<Option<String>, CarnetError> {
        Ok(self.0.enrolled_user()?)
    }

    /// Syncs the record with the health space (pull, then push); resumable.
    pub async fn sync_record(
        &self,
        record: Arc<HealthRecord>,
        listener: Option<Arc<dyn SyncListener>>,
    ) -> Result<SyncReport, CarnetError> {
        let record = record.shared()?;
        let mut progress = |stage, p: carnet::record::Progress| {
            if let Some(listener) = &listener {
                listener.on_progress(stage, p.done, p.total);
            }
        };
        Ok(self.0.sync_record(&record, &mut progress).await?)
    }

    /// Brings the DCC lists up to date against `anchor` (PEM or DER); offline, the lists held.
    pub async fn update_lists(&self, anchor: Vec<u8>) -> Result<ListsUpdate, CarnetError> {
        let update = self.0.update_lists(&anchor).await?;
        Ok(ListsUpdate {
            lists: Arc::new(VerifierLists(update.lists)),
            trust_changed: update.trust_changed,
            revocation_changed: update.revocation_changed,
            reached: update.reached,
        })
    }
}
