//! Documents as the DMP and MSSanté deliver them: a CDA's header fills in what the caller
//! leaves unsaid of a new document, and the file a person opens is the one inside a level-1
//! CDA, decoded as it streams out of the encrypted store.

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use carnet_cda::{Body, Cda, Header, Limits, Rendering};
use carnet_record::{Document, NewDocument};

use crate::files::{open_given_file, write_atomically};
use crate::{CarnetError, HealthRecord};

/// Reads a CDA document, writing its embedded file (level 1) to `embedded`.
///
/// # Errors
/// [`CarnetError::Cda`].
pub fn read_cda(input: impl BufRead, embedded: &mut dyn Write) -> Result<Cda, CarnetError> {
    Ok(carnet_cda::read(input, embedded, &Limits::default())?)
}

/// The file a person opens for a document, and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewable {
    /// The document.
    pub document: Document,
    /// The media type of what was written: the embedded file's for a level-1 CDA, else the
    /// document's own.
    pub media_type: String,
}

impl HealthRecord {
    /// Adds the person's own document, its content read from the file at `path` (streamed,
    /// in 64 KiB sealed chunks). What it says of itself is read first
    /// ([`carnet_record::describe`]): a CDA's header fills in what `new` leaves unsaid, its
    /// narrative and a text's words are kept for search, and a CDA that does not read is
    /// refused, nothing stored. The file is opened before anything else, so that one that
    /// cannot be is a read error naming it.
    ///
    /// # Errors
    /// [`CarnetError::Codec`] (a read error) when the file cannot be opened;
    /// [`CarnetError::Cda`] for a CDA that does not read; [`CarnetError::Record`] for refused
    /// metadata, an unsupported type or a file over the size limit.
    pub fn add_document_from_path(
        &self,
        new: &NewDocument,
        path: &Path,
    ) -> Result<Document, CarnetError> {
        let mut file = open_given_file(path, "document")?;
        let new = carnet_record::describe(new, &mut GivenFile(path))?;
        self.with_content(|r| r.add_document(&new, carnet_record::DocumentSource::User, &mut file))
    }

    /// As [`HealthRecord::add_document_from_path`], the content given in memory.
    ///
    /// # Errors
    /// As [`HealthRecord::add_document_from_path`].
    pub fn add_document(&self, new: &NewDocument, content: &[u8]) -> Result<Document, CarnetError> {
        let new = carnet_record::describe(new, &mut Bytes(content))?;
        self.with_content(|r| {
            r.add_document(&new, carnet_record::DocumentSource::User, &mut &*content)
        })
    }

    /// Imports the documents of the IHE XDM archive (`IHE_XDM.ZIP`) at `path`, as MSSanté
    /// delivers them: each file checked against its entry's size and SHA-1, described by its
    /// metadata and, for a CDA, its header, judged for identity vigilance; one already kept
    /// (same unique id) is skipped. All or nothing.
    ///
    /// # Errors
    /// [`CarnetError::Codec`] (a read error) when the file cannot be opened;
    /// [`CarnetError::Record`] for a refused archive (`record.import_refused`, `xdm.*`).
    pub fn import_xdm_from_path(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(carnet_record::Progress),
    ) -> Result<carnet_record::XdmImport, CarnetError> {
        let file = open_given_file(path, "XDM archive")?;
        self.with_content(|r| r.import_xdm(std::io::BufReader::new(file), progress))
    }

    /// Writes documents `ids` to `path` as an IHE XDM archive, for a person to hand them to
    /// a professional (by MSSanté, on a key); written as [`HealthRecord::save_document`]
    /// writes. A document kept apart as not for this person is refused.
    ///
    /// # Errors
    /// [`CarnetError::Record`] for an unknown or refused document; [`CarnetError::Storage`]
    /// (or `storage.full`) when the file cannot be written.
    pub fn export_xdm_to_path(&self, ids: &[String], path: &Path) -> Result<(), CarnetError> {
        write_atomically(path, |file| {
            self.with_content(|r| r.export_xdm(ids, file))?;
            Ok(())
        })
    }

    /// Writes what a person opens for document `id` to `path`: the embedded file of a
    /// level-1 CDA (the PDF, not the XML), decoded as it streams out of the store, else the
    /// document's file. Written as [`HealthRecord::save_document`] writes.
    ///
    /// # Errors
    /// As [`HealthRecord::save_document`]; [`CarnetError::Cda`] for a stored CDA that does not
    /// read.
    pub fn save_viewable(&self, id: &str, path: &Path) -> Result<Viewable, CarnetError> {
        write_atomically(path, |file| self.write_viewable(id, file))
    }

    /// What a person opens for document `id`, in memory (a document is at most
    /// [`carnet_record::MAX_DOCUMENT_BYTES`]), with its media type.
    ///
    /// # Errors
    /// As [`HealthRecord::save_viewable`].
    pub fn viewable_bytes(&self, id: &str) -> Result<(Vec<u8>, Viewable), CarnetError> {
        let mut bytes = Vec::new();
        let viewable = self.write_viewable(id, &mut bytes)?;
        Ok((bytes, viewable))
    }

    fn write_viewable(
        &self,
        id: &str,
        out: &mut (dyn Write + Send),
    ) -> Result<Viewable, CarnetError> {
        let document = self.with_content(|r| r.document(id))?;
        if document.media_type != "text/xml" {
            self.with_content(|r| r.read_document(id, out))?;
            let media_type = document.media_type.clone();
            return Ok(Viewable {
                document,
                media_type,
            });
        }
        let cda = self.stream_cda(id, out)?;
        let media_type = match cda.body {
            Body::Unstructured { media_type, .. } => media_type,
            Body::Structured { .. } | Body::Missing => {
                // Nothing embedded was written: the document is its own XML.
                self.with_content(|r| r.read_document(id, out))?;
                document.media_type.clone()
            }
        };
        Ok(Viewable {
            document,
            media_type,
        })
    }

    /// Reads stored CDA `id` through the CDA reader, its embedded file to `out`.
    fn stream_cda(&self, id: &str, out: &mut (dyn Write + Send)) -> Result<Cda, CarnetError> {
        self.with_stored_xml(id, |input| read_cda(input, out))
    }

    /// The readable form of stored level-3 CDA `id`: its header, and its sections to render
    /// ([`carnet_cda::Rendering::to_html`], [`carnet_cda::Rendering::to_text`]).
    ///
    /// # Errors
    /// [`CarnetError::Record`] for an unknown id; [`CarnetError::Cda`] for a document that
    /// is not a CDA with a structured body, or does not read.
    pub fn render_document(&self, id: &str) -> Result<(Header, Rendering), CarnetError> {
        let cda = self.with_stored_xml(id, |input| read_cda(input, &mut std::io::sink()))?;
        if !matches!(cda.body, Body::Structured { .. }) {
            return Err(CarnetError::Cda(carnet_cda::CdaError::Body(
                "the document has no structured body to show as a page; it holds a file, \
                 which record show --out writes"
                    .into(),
            )));
        }
        let rendering = self.with_stored_xml(id, |input| {
            Ok(carnet_cda::render(input, &Limits::default())?)
        })?;
        Ok((cda.header, rendering))
    }

    /// What the coded entries of stored CDA `id` say — laboratory results, vaccinations,
    /// allergies, treatments — offered to the medical profile as the FHIR R4 resources it
    /// would keep; nothing is added ([`HealthRecord::add_finding_to_profile`] adds one).
    ///
    /// # Errors
    /// [`CarnetError::Record`] for an unknown id; [`CarnetError::Cda`] for a document that
    /// is not a CDA, or does not read.
    pub fn document_findings(
        &self,
        id: &str,
    ) -> Result<Vec<carnet_record::OfferedFinding>, CarnetError> {
        let findings = self.read_findings(id)?;
        self.with_content(|r| r.offer_findings(id, &findings))
    }

    /// Adds finding `index` of stored CDA `id` ([`HealthRecord::document_findings`]) to the
    /// medical profile, with the document as its source; asked again, the same entry.
    ///
    /// # Errors
    /// As [`HealthRecord::document_findings`]; [`CarnetError::Record`] for an index past the
    /// findings or a document kept apart.
    pub fn add_finding_to_profile(
        &self,
        id: &str,
        index: u32,
    ) -> Result<carnet_record::ProfileItem, CarnetError> {
        let findings = self.read_findings(id)?;
        self.with_content(|r| r.add_finding(id, &findings, index))
    }

    fn read_findings(&self, id: &str) -> Result<Vec<carnet_cda::Finding>, CarnetError> {
        self.with_stored_xml(id, |input| {
            Ok(carnet_cda::findings(input, &Limits::default())?)
        })
    }

    /// What the header of stored CDA `id` says.
    ///
    /// # Errors
    /// [`CarnetError::Record`] for an unknown id; [`CarnetError::Cda`] for a document that
    /// is not a CDA, or does not read.
    pub fn document_header(&self, id: &str) -> Result<Header, CarnetError> {
        Ok(self
            .with_stored_xml(id, |input| read_cda(input, &mut std::io::sink()))?
            .header)
    }

    /// Stored level-3 CDA `id` as a readable, self-contained, sanitised HTML page (no script,
    /// nothing it refers to outside itself).
    ///
    /// # Errors
    /// As [`HealthRecord::render_document`].
    pub fn document_html(&self, id: &str) -> Result<String, CarnetError> {
        let (header, rendering) = self.render_document(id)?;
        Ok(rendering.to_html(&header))
    }

    /// Stored level-3 CDA `id` as plain text.
    ///
    /// # Errors
    /// As [`HealthRecord::render_document`].
    pub fn document_text(&self, id: &str) -> Result<String, CarnetError> {
        let (header, rendering) = self.render_document(id)?;
        Ok(rendering.to_text(&header))
    }

    /// Runs `work` over the stored XML of document `id`: the store writes the decrypted
    /// document into a bounded channel on this thread while `work` reads it on another, so
    /// that it is never held whole.
    fn with_stored_xml<T: Send>(
        &self,
        id: &str,
        work: impl FnOnce(std::io::BufReader<ChannelReader>) -> Result<T, CarnetError> + Send,
    ) -> Result<T, CarnetError> {
        let document = self.with_content(|r| r.document(id))?;
        if document.media_type != "text/xml" {
            return Err(CarnetError::Cda(carnet_cda::CdaError::NotCda(format!(
                "the document is {}",
                document.media_type
            ))));
        }
        let (sender, receiver) = sync_channel::<Vec<u8>>(4);
        std::thread::scope(|scope| {
            let reader =
                scope.spawn(move || work(std::io::BufReader::new(ChannelReader::new(receiver))));
            let mut pipe = ChannelWriter(sender);
            let stored = self.with_content(|r| r.read_document(id, &mut pipe));
            drop(pipe);
            let read = reader.join().unwrap_or_else(|_| {
                Err(CarnetError::Storage("the document reader stopped".into()))
            });
            // The reader's error says why the store's writes stopped, if they did.
            let value = read?;
            stored?;
            Ok(value)
        })
    }
}

/// A document the person gives by its path, opened again for each reading.
struct GivenFile<'a>(&'a Path);

impl carnet_record::Content for GivenFile<'_> {
    type Error = CarnetError;

    fn open(&mut self) -> Result<Box<dyn BufRead + '_>, CarnetError> {
        Ok(Box::new(std::io::BufReader::new(open_given_file(
            self.0, "document",
        )?)))
    }
}

/// A document given in memory, its reading errors the facade's.
struct Bytes<'a>(&'a [u8]);

impl carnet_record::Content for Bytes<'_> {
    type Error = CarnetError;

    fn open(&mut self) -> Result<Box<dyn BufRead + '_>, CarnetError> {
        Ok(Box::new(self.0))
    }
}

/// The writing end of the pipe between the store and the CDA reader.
struct ChannelWriter(SyncSender<Vec<u8>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .send(buf.to_vec())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The reading end: chunks as they come, end of input when the writer is gone.
struct ChannelReader {
    receiver: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    position: usize,
}

impl ChannelReader {
    fn new(receiver: Receiver<Vec<u8>>) -> Self {
        ChannelReader {
            receiver,
            chunk: Vec::new(),
            position: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.position >= self.chunk.len() {
            match self.receiver.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.position = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let rest = self.chunk.get(self.position..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), rest.get(..n)) {
            to.copy_from_slice(from);
        }
        self.position += n;
        Ok(n)
    }
}
