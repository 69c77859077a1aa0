//! The words of what documents say — a level-3 CDA's sections and narrative, a plain-text
//! document's text — so that search finds a document by its content, not only by its title
//! and metadata. They are kept as an item of the store beside each document (kind
//! `document_words`), sealed like every item: there is no index in clear on disk. Folded
//! (lower case, no accents) and each kept once, at most [`MAX_WORDS_BYTES`].
//!
//! The words are taken where a document's content is read anyway (adding it, receiving it,
//! importing it): [`NewDocument::words`](crate::NewDocument::words) carries them to the store.
//! A level-1 CDA's body is a file, not words: it has none.

use std::collections::HashSet;
use std::io::BufRead;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Item kind of documents' words.
pub(crate) const DOCUMENT_WORDS: &str = "document_words";
/// Most bytes of words kept for one document.
pub const MAX_WORDS_BYTES: usize = 256 * 1024;
/// Most bytes of a plain-text document read for its words.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// A document's words, as the store keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DocumentWords {
    pub(crate) words: String,
}

/// The words of a level-3 CDA's sections (its titles and narrative); `None` when it has no
/// structured body or does not read.
pub fn narrative_words(input: impl BufRead) -> Option<String> {
    let rendering = carnet_cda::render(input, &carnet_cda::Limits::default()).ok()?;
    let words = folded_words(&rendering.narrative_text());
    (!words.is_empty()).then_some(words)
}

/// The words of a plain-text document (its first [`MAX_TEXT_BYTES`]).
pub fn text_words(content: &[u8]) -> Option<String> {
    let head = content.get(..MAX_TEXT_BYTES).unwrap_or(content);
    let words = folded_words(&String::from_utf8_lossy(head));
    (!words.is_empty()).then_some(words)
}

/// Each word of `text` once, folded, in the order met, space-separated, cut at
/// [`MAX_WORDS_BYTES`].
pub(crate) fn folded_words(text: &str) -> String {
    let folded = fold(text);
    let mut seen = HashSet::new();
    let mut words = String::new();
    for word in folded.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() || !seen.insert(word) {
            continue;
        }
        if words.len() + word.len() + 1 > MAX_WORDS_BYTES {
            break;
        }
        if !words.is_empty() {
            words.push(' ');
        }
        words.push_str(word);
    }
    words
}

/// Lower case without accents, for matching ("Échographie" matches "echo").
pub(crate) fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_kept_once_and_bounded() {
        assert_eq!(
            folded_words("Glycémie à jeun : 0,95 g/L — GLYCÉMIE normale"),
            "glycemie a jeun 0 95 g l normale"
        );
        let long = "mot ".repeat(10) + &"x".repeat(MAX_WORDS_BYTES);
        assert_eq!(folded_words(&long), "mot");
        assert_eq!(text_words(b"   \n"), None);
    }

    #[test]
    fn folding_ignores_case_and_accents() {
        assert_eq!(
            fold("Échographie ŒSOPHAGE à Créteil"),
            "echographie œsophage a creteil"
        );
    }
}
