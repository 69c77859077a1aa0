//! Access rules: documents hidden from professionals, blocked professionals, the access log;
//! and document search.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::document::{DOCUMENT, Document, sort_newest_first};
use crate::error::{RecordError, Result};
use crate::record::{Professional, Record, check_professional};
use crate::words::{DOCUMENT_WORDS, DocumentWords, fold};

/// Item kind of blocked professionals (keyed by RPPS).
pub(crate) const BLOCKED: &str = "blocked";
/// Item kind of access log entries.
pub(crate) const ACCESS_LOG: &str = "access_log";

/// A professional the citizen has blocked from their record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedProfessional {
    /// The professional (with an RPPS).
    pub professional: Professional,
    /// Since when, Unix milliseconds.
    pub since_millis: i64,
}

/// What a professional did or tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessAction {
    /// Listed the documents.
    ListDocuments,
    /// Read one document.
    ReadDocument,
}

/// One line of the access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// The entry's id in the access log.
    pub id: String,
    /// When, Unix milliseconds.
    pub at_millis: i64,
    /// The professional who acted or tried to.
    pub professional: Professional,
    /// What they did or tried.
    pub action: AccessAction,
    /// Which document, for reads.
    pub document_id: Option<String>,
    /// Whether it was allowed.
    pub allowed: bool,
}

/// A document search; every criterion given must match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocumentQuery {
    /// Words that must all appear in the title, description, author or type label, or in
    /// what the document says (a level-3 CDA's narrative, a plain-text document's text);
    /// case and accents ignored.
    pub text: Option<String>,
    /// Care date (or arrival date) on or after, Unix milliseconds.
    pub from_millis: Option<i64>,
    /// Care date (or arrival date) before, Unix milliseconds.
    pub until_millis: Option<i64>,
    /// Type code (LOINC) or class code.
    pub code: Option<String>,
    /// Author: part of the name, or the RPPS.
    pub author: Option<String>,
}

impl Record {
    /// Hides document `id` from professionals, or shows it again.
    pub fn set_document_hidden(&self, id: &str, hidden: bool) -> Result<Document> {
        self.store.write(|w| {
            let mut document: Document = w
                .reader()
                .get(DOCUMENT, id)?
                .ok_or(RecordError::NotFound("document"))?;
            document.hidden = hidden;
            w.put(DOCUMENT, id, &document)?;
            Ok(document)
        })
    }

    /// Blocks a professional (identified by RPPS) from the record.
    pub fn block_professional(&self, professional: &Professional) -> Result<()> {
        check_professional(professional)?;
        let rpps = professional.rpps.as_deref().ok_or_else(|| {
            RecordError::InvalidInput("blocking needs the professional's RPPS".into())
        })?;
        let blocked = BlockedProfessional {
            professional: professional.clone(),
            since_millis: self.store.now_millis(),
        };
        self.store.write(|w| w.put(BLOCKED, rpps, &blocked))
    }

    /// Unblocks the professional with this RPPS.
    pub fn unblock_professional(&self, rpps: &str) -> Result<()> {
        self.store.write(|w| {
            if w.delete(BLOCKED, rpps)? {
                Ok(())
            } else {
                Err(RecordError::NotFound("blocked professional"))
            }
        })
    }

    /// Blocked professionals.
    pub fn blocked_professionals(&self) -> Result<Vec<BlockedProfessional>> {
        Ok(self
            .store
            .read(|r| r.list(BLOCKED))?
            .into_iter()
            .map(|(_, b)| b)
            .collect())
    }

    /// What a professional sees: the documents not hidden, unless they are blocked. Logged
    /// either way.
    pub fn documents_for_professional(&self, professional: &Professional) -> Result<Vec<Document>> {
        let allowed = self.check_access(professional, AccessAction::ListDocuments, None)?;
        if !allowed {
            return Err(RecordError::NotAllowed("this professional is blocked"));
        }
        Ok(self
            .documents()?
            .into_iter()
            .filter(|d| !d.hidden)
            .collect())
    }

    /// A professional reads document `id`: refused (and logged) when blocked or hidden.
    pub fn read_document_as_professional(
        &self,
        professional: &Professional,
        id: &str,
        out: &mut dyn Write,
    ) -> Result<Document> {
        let document = self.document(id)?;
        let allowed =
            self.check_access(professional, AccessAction::ReadDocument, Some(&document))?;
        if !allowed {
            return Err(RecordError::NotAllowed(
                "this document is not shared with this professional",
            ));
        }
        self.read_document(id, out)
    }

    /// The access log, newest first.
    pub fn access_log(&self) -> Result<Vec<AccessEntry>> {
        let mut entries: Vec<AccessEntry> = self
            .store
            .read(|r| r.list(ACCESS_LOG))?
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        entries.sort_by(|a, b| b.at_millis.cmp(&a.at_millis).then_with(|| a.id.cmp(&b.id)));
        Ok(entries)
    }

    /// Decides an access and logs it; whether it is allowed.
    fn check_access(
        &self,
        professional: &Professional,
        action: AccessAction,
        document: Option<&Document>,
    ) -> Result<bool> {
        check_professional(professional)?;
        let id = crate::crypto::random_id()?;
        let at_millis = self.store.now_millis();
        self.store.write(|w| {
            let blocked = match &professional.rpps {
                Some(rpps) => w
                    .reader()
                    .get::<BlockedProfessional>(BLOCKED, rpps)?
                    .is_some(),
                None => true,
            };
            // A document kept apart is not this person's to show.
            let allowed = !blocked && !document.is_some_and(|d| d.hidden || d.addressee.is_apart());
            let entry = AccessEntry {
                id: id.clone(),
                at_millis,
                professional: professional.clone(),
                action,
                document_id: document.map(|d| d.id.clone()),
                allowed,
            };
            w.put(ACCESS_LOG, &id, &entry)?;
            Ok(allowed)
        })
    }

    /// Documents matching `query`, newest first (the person's own: neither kept apart nor
    /// replaced). The metadata and the documents' words are decrypted and matched in memory:
    /// nothing searchable is kept in clear.
    pub fn search_documents(&self, query: &DocumentQuery) -> Result<Vec<Document>> {
        let words: Vec<String> = query
            .text
            .as_deref()
            .map(fold)
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let author = query.author.as_deref().map(fold);
        let (documents, words_of) = self.store.read(|r| {
            let documents: Vec<Document> = r
                .list::<Document>(DOCUMENT)?
                .into_iter()
                .map(|(_, d)| d)
                .filter(Document::is_listed)
                .collect();
            // What documents say, only when words are looked for.
            let mut words = std::collections::HashMap::new();
            if query.text.is_some() {
                for (id, kept) in r.list::<DocumentWords>(DOCUMENT_WORDS)? {
                    words.insert(id, kept.words);
                }
            }
            Ok((documents, words))
        })?;
        let mut found: Vec<Document> = documents
            .into_iter()
            .filter(|d| {
                let when = d.date_millis.unwrap_or(d.added_millis);
                query.from_millis.is_none_or(|from| when >= from)
                    && query.until_millis.is_none_or(|until| when < until)
            })
            .filter(|d| {
                query.code.as_deref().is_none_or(|code| {
                    [&d.type_code, &d.class_code]
                        .into_iter()
                        .flatten()
                        .any(|c| c.code == code)
                })
            })
            .filter(|d| {
                author.as_deref().is_none_or(|wanted| {
                    d.author.as_ref().is_some_and(|a| {
                        fold(&a.name).contains(wanted) || a.rpps.as_deref() == Some(wanted)
                    })
                })
            })
            .filter(|d| {
                words.is_empty() || {
                    let mut haystack = fold(&searchable_text(d));
                    if let Some(said) = words_of.get(&d.id) {
                        haystack.push(' ');
                        haystack.push_str(said);
                    }
                    words.iter().all(|w| haystack.contains(w.as_str()))
                }
            })
            .collect();
        sort_newest_first(&mut found);
        Ok(found)
    }
}

fn searchable_text(document: &Document) -> String {
    let mut text = document.title.clone();
    let extra = [
        document.description.as_deref(),
        document.author.as_ref().map(|a| a.name.as_str()),
        document
            .type_code
            .as_ref()
            .and_then(|c| c.display.as_deref()),
        document
            .class_code
            .as_ref()
            .and_then(|c| c.display.as_deref()),
    ];
    for part in extra.into_iter().flatten() {
        text.push(' ');
        text.push_str(part);
    }
    text
}
