//! The XML of a CDA document as a stream of checked items — an element opening (with its
//! attributes), closing, or text with its entity references resolved — under the reader's
//! limits and refusals (DTD, encoding, undeclared entities), for every pass over a document.

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};

use crate::limited::Limited;
use crate::{CdaError, Limits};

/// One item of the document.
pub enum Item<'a> {
    /// An element opens (`<name …>` or `<name …/>`, which closes at the next item).
    Open(BytesStart<'a>),
    /// The element last opened closes.
    Close,
    /// Text (character data, CDATA, a resolved entity or character reference).
    Text(Cow<'a, str>),
    /// The end of the document.
    End,
}

/// The document's items, one at a time.
pub struct Events<R> {
    reader: quick_xml::Reader<Limited<R>>,
    buf: Vec<u8>,
    events: u64,
    depth: usize,
    close_pending: bool,
    limits: Limits,
}

impl<R: BufRead> Events<R> {
    /// The items of `input`, read under `limits`.
    pub fn new(input: R, limits: &Limits) -> Self {
        Events {
            reader: quick_xml::Reader::from_reader(Limited::new(input, limits)),
            buf: Vec::new(),
            events: 0,
            depth: 0,
            close_pending: false,
            limits: limits.clone(),
        }
    }

    /// The next item, owned (quick-xml lends each event from a buffer the next read reuses).
    pub fn next_item(&mut self) -> Result<Item<'static>, CdaError> {
        if self.close_pending {
            self.close_pending = false;
            self.depth -= 1;
            return Ok(Item::Close);
        }
        loop {
            self.reader.get_mut().start_event();
            self.buf.clear();
            self.events += 1;
            if self.events > self.limits.max_events {
                return Err(CdaError::TooLarge {
                    what: "the document",
                    limit: format!("{} XML events", self.limits.max_events),
                });
            }
            let event = match self.reader.read_event_into(&mut self.buf) {
                Ok(event) => event,
                Err(error) => return Err(reader_error(&error, self.reader.get_ref())),
            };
            let empty = matches!(event, Event::Empty(_));
            match event {
                Event::Decl(decl) => {
                    if let Some(Ok(encoding)) = decl.encoding()
                        && !encoding.eq_ignore_ascii_case("utf-8")
                    {
                        return Err(CdaError::Encoding(encoding.into_owned()));
                    }
                }
                Event::DocType(_) => return Err(CdaError::Dtd),
                Event::Start(element) | Event::Empty(element) => {
                    if self.depth >= self.limits.max_depth {
                        return Err(CdaError::TooLarge {
                            what: "the nesting of elements",
                            limit: format!("{} levels", self.limits.max_depth),
                        });
                    }
                    self.depth += 1;
                    self.close_pending = empty;
                    return Ok(Item::Open(element.into_owned()));
                }
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(Item::Close);
                }
                Event::Text(text) => {
                    return Ok(Item::Text(Cow::Owned(text.xml10_content().into_owned())));
                }
                Event::CData(data) => return Ok(Item::Text(Cow::Owned(data.to_string()))),
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) => {
                            let name = reference.xml10_content();
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| CdaError::UndeclaredEntity(name.into_owned()))?
                                .to_owned()
                        }
                        Err(_) => {
                            return Err(CdaError::Malformed(
                                "a character reference to no character".into(),
                            ));
                        }
                    };
                    return Ok(Item::Text(Cow::Owned(resolved)));
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => {
                    if self.depth > 0 {
                        return Err(CdaError::Malformed(
                            "the document ends inside an element".into(),
                        ));
                    }
                    return Ok(Item::End);
                }
            }
        }
    }

    /// Hands the raw text from here to the next markup to `sink`, in the input's own chunks,
    /// without gathering it (a level-1 body's base64).
    pub fn raw_text(
        &mut self,
        mut sink: impl FnMut(&[u8]) -> Result<(), CdaError>,
    ) -> Result<(), CdaError> {
        let input = self.reader.get_mut();
        loop {
            input.start_event();
            if let Err(error) = input.fill_buf().map(|_| ()).map_err(|e| e.to_string()) {
                return Err(input.passed().unwrap_or(CdaError::Io(error)));
            }
            let chunk = input.fill_buf().map_err(|e| CdaError::Io(e.to_string()))?;
            if chunk.is_empty() {
                return Ok(());
            }
            let end = chunk.iter().position(|&b| b == b'<');
            let text = end.map_or(chunk, |end| chunk.get(..end).unwrap_or_default());
            sink(text)?;
            let used = text.len();
            input.consume(used);
            if end.is_some() {
                return Ok(());
            }
        }
    }
}

/// A parser error in words: a limit the input ran into, a read that failed, or XML that is
/// not well formed.
fn reader_error<R>(error: &quick_xml::Error, input: &Limited<R>) -> CdaError {
    if let Some(limit) = input.passed() {
        return limit;
    }
    match error {
        quick_xml::Error::Io(io) => CdaError::Io(format!("the document cannot be read: {io}")),
        quick_xml::Error::Syntax(syntax) => CdaError::Malformed(syntax.to_string()),
        quick_xml::Error::IllFormed(ill) => CdaError::Malformed(ill.to_string()),
        quick_xml::Error::Encoding(_) => CdaError::Malformed("text that is not UTF-8".into()),
        quick_xml::Error::Escape(escape) => CdaError::Malformed(escape.to_string()),
        other => CdaError::Malformed(other.to_string()),
    }
}

/// The value of attribute `name` (by local name), its references resolved, trimmed; `None`
/// when absent or empty.
pub fn attribute(element: &BytesStart<'_>, name: &str) -> Result<Option<String>, CdaError> {
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|e| CdaError::Malformed(e.to_string()))?;
        if attribute.key.local_name().as_ref() == name {
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                    ) => CdaError::UndeclaredEntity(name),
                    other => CdaError::Malformed(other.to_string()),
                })?;
            let value = value.trim();
            return Ok((!value.is_empty()).then(|| value.to_owned()));
        }
    }
    Ok(None)
}

/// The element's local name.
pub fn local_name(element: &BytesStart<'_>) -> String {
    element.local_name().as_ref().to_owned()
}
