//! The input under the reader's size limits: no single tag or text longer than
//! [`Limits::max_event_bytes`], no document longer than [`Limits::max_document_bytes`],
//! whatever the input claims (a lying length, `/dev/zero`, a FIFO that never ends).
//!
//! quick-xml gathers each event whole before handing it over; bounding what it may read
//! between two events bounds its memory.

use std::io::{BufRead, Read};

use crate::{CdaError, Limits};

pub(crate) struct Limited<R> {
    inner: R,
    since_event: u64,
    total: u64,
    max_event: u64,
    max_total: u64,
    passed: Option<CdaError>,
}

impl<R> Limited<R> {
    pub(crate) fn new(inner: R, limits: &Limits) -> Self {
        Limited {
            inner,
            since_event: 0,
            total: 0,
            max_event: limits.max_event_bytes,
            max_total: limits.max_document_bytes,
            passed: None,
        }
    }

    /// A new event begins: its bytes are counted from here.
    pub(crate) fn start_event(&mut self) {
        self.since_event = 0;
    }

    /// The limit passed, if a read stopped at one.
    pub(crate) fn passed(&self) -> Option<CdaError> {
        self.passed.clone()
    }

    fn check(&mut self) -> std::io::Result<()> {
        let passed = if self.since_event > self.max_event {
            Some(CdaError::TooLarge {
                what: "one tag or text of the document",
                limit: format!("{} bytes", self.max_event),
            })
        } else if self.total > self.max_total {
            Some(CdaError::TooLarge {
                what: "the document",
                limit: format!("{} bytes", self.max_total),
            })
        } else {
            None
        };
        match passed {
            Some(error) => {
                self.passed = Some(error);
                Err(std::io::Error::other(
                    "a limit of the CDA reader was passed",
                ))
            }
            None => Ok(()),
        }
    }
}

impl<R: BufRead> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), available.get(..n)) {
            to.copy_from_slice(from);
        }
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Limited<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.check()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.since_event += amount as u64;
        self.total += amount as u64;
        self.inner.consume(amount);
    }
}
