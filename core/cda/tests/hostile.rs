//! Hostile XML is a typed error, read in bounded memory: DTDs and entities (billion laughs,
//! external entities by file and URL), deep nesting, a tag of 200 MB of attributes, endless
//! input, invalid UTF-8, an embedded file past its limit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufReader, Read};

use carnet_cda::{CdaError, Limits, read};

fn read_text(xml: &str) -> Result<carnet_cda::Cda, CdaError> {
    read(xml.as_bytes(), &mut Vec::new(), &Limits::default())
}

/// A document made on the fly: `head`, then `filler` repeated up to `length` bytes, then
/// `tail`; it counts what the reader pulled from it.
struct Generated {
    head: Vec<u8>,
    filler: Vec<u8>,
    tail: Vec<u8>,
    length: u64,
    position: u64,
}

impl Generated {
    fn new(head: &str, filler: &str, length: u64, tail: &str) -> Self {
        Generated {
            head: head.as_bytes().to_vec(),
            filler: filler.as_bytes().to_vec(),
            tail: tail.as_bytes().to_vec(),
            length,
            position: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let head = self.head.len() as u64;
        let body_end = head + self.length;
        let mut written = 0;
        while written < buf.len() {
            let p = self.position;
            let byte = if p < head {
                self.head[p as usize]
            } else if p < body_end {
                self.filler[((p - head) % self.filler.len() as u64) as usize]
            } else if p < body_end + self.tail.len() as u64 {
                self.tail[(p - body_end) as usize]
            } else {
                break;
            };
            buf[written] = byte;
            written += 1;
            self.position += 1;
        }
        Ok(written)
    }
}

#[test]
fn a_dtd_is_refused_before_any_entity_is_read() {
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>"#;
    assert_eq!(read_text(laughs).unwrap_err(), CdaError::Dtd);
    for external in [
        r#"<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ClinicalDocument><title>&xxe;</title></ClinicalDocument>"#,
        r#"<!DOCTYPE d [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/evil">]><ClinicalDocument><title>&xxe;</title></ClinicalDocument>"#,
        r#"<!DOCTYPE ClinicalDocument SYSTEM "http://127.0.0.1:9/cda.dtd"><ClinicalDocument/>"#,
    ] {
        let error = read_text(external).unwrap_err();
        assert_eq!(error, CdaError::Dtd);
        assert_eq!(error.code(), "cda.dtd");
    }
    // Without a DTD an entity is simply undeclared.
    assert_eq!(
        read_text("<ClinicalDocument><title>&xxe;</title></ClinicalDocument>").unwrap_err(),
        CdaError::UndeclaredEntity("xxe".into())
    );
    assert_eq!(
        read_text(r#"<ClinicalDocument><code code="&xxe;"/></ClinicalDocument>"#).unwrap_err(),
        CdaError::UndeclaredEntity("xxe".into())
    );
    // The predefined ones and character references are read.
    let cda = read_text(
        "<ClinicalDocument><title>R&amp;D &#233;t&#xE9; &lt;ok&gt;</title></ClinicalDocument>",
    )
    .unwrap();
    assert_eq!(cda.header.title.as_deref(), Some("R&D été <ok>"));
}

#[test]
fn deep_nesting_stops_at_the_depth_limit() {
    let depth = 100_000;
    let xml = format!(
        "<ClinicalDocument>{}{}</ClinicalDocument>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    let error = read_text(&xml).unwrap_err();
    assert!(
        matches!(error, CdaError::TooLarge { what, .. } if what.contains("nesting")),
        "{error}"
    );
}

#[test]
fn a_huge_tag_or_endless_input_stops_at_the_event_limit_in_bounded_memory() {
    let mut huge = Generated::new(
        "<ClinicalDocument a=\"",
        "xxxxxxxxxxxxxxxx",
        200 * 1024 * 1024,
        "\"/>",
    );
    let limits = Limits::default();
    let error = read(BufReader::new(&mut huge), &mut Vec::new(), &limits).unwrap_err();
    assert!(
        matches!(error, CdaError::TooLarge { what, .. } if what.contains("one tag")),
        "{error}"
    );
    assert!(
        huge.position < limits.max_event_bytes + 64 * 1024,
        "read {} bytes of a 200 MB tag",
        huge.position
    );
    // /dev/zero: bytes that are never markup.
    let zeros = std::io::repeat(0).take(1 << 40);
    let error = read(BufReader::new(zeros), &mut Vec::new(), &limits).unwrap_err();
    assert!(
        matches!(error, CdaError::TooLarge { .. } | CdaError::Malformed(_)),
        "{error}"
    );
    // Many small elements: stopped by the count of events.
    let small = Limits {
        max_events: 10_000,
        ..Limits::default()
    };
    let mut many = Generated::new("<ClinicalDocument>", "<a/>", 1 << 30, "</ClinicalDocument>");
    let error = read(BufReader::new(&mut many), &mut Vec::new(), &small).unwrap_err();
    assert!(matches!(error, CdaError::TooLarge { .. }), "{error}");
}

#[test]
fn invalid_utf8_or_another_encoding_is_refused() {
    let mut bytes = b"<ClinicalDocument><title>caf".to_vec();
    bytes.extend_from_slice(&[0xC3, 0x28, 0xFF]);
    bytes.extend_from_slice(b"</title></ClinicalDocument>");
    let error = read(bytes.as_slice(), &mut Vec::new(), &Limits::default()).unwrap_err();
    assert!(matches!(error, CdaError::Malformed(_)), "{error}");
    let latin1 = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><ClinicalDocument/>";
    assert_eq!(
        read_text(latin1).unwrap_err(),
        CdaError::Encoding("ISO-8859-1".into())
    );
}

#[test]
fn an_embedded_file_past_its_limit_is_refused_while_streaming() {
    let limits = Limits {
        max_embedded_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let head = r#"<ClinicalDocument><component><nonXMLBody><text mediaType="application/pdf" representation="B64">"#;
    let mut body = Generated::new(
        head,
        "QUFB\n",
        8 * 1024 * 1024,
        "</text></nonXMLBody></component></ClinicalDocument>",
    );
    let mut sink = Vec::new();
    let error = read(BufReader::new(&mut body), &mut sink, &limits).unwrap_err();
    assert!(
        matches!(error, CdaError::TooLarge { what, .. } if what.contains("embedded")),
        "{error}"
    );
    assert!(sink.len() as u64 <= limits.max_embedded_bytes);
    // Base64 that is not base64, and a media type no CI-SIS document carries.
    for bad in [
        r#"<ClinicalDocument><component><nonXMLBody><text mediaType="application/pdf" representation="B64">JVBE!!</text></nonXMLBody></component></ClinicalDocument>"#,
        r#"<ClinicalDocument><component><nonXMLBody><text mediaType="application/pdf" representation="B64">JVB</text></nonXMLBody></component></ClinicalDocument>"#,
        r#"<ClinicalDocument><component><nonXMLBody><text mediaType="application/x-msdownload" representation="B64">TVo=</text></nonXMLBody></component></ClinicalDocument>"#,
        r#"<ClinicalDocument><component><nonXMLBody><text mediaType="application/pdf" representation="HEX">00</text></nonXMLBody></component></ClinicalDocument>"#,
    ] {
        assert!(
            matches!(read_text(bad).unwrap_err(), CdaError::Body(_)),
            "{bad}"
        );
    }
    // A good one, its base64 broken across lines.
    let mut sink = Vec::new();
    let cda = read(
        "<ClinicalDocument><component><nonXMLBody><text mediaType=\"text/plain\" representation=\"B64\">Qm9u\r\n am91\nciE=</text></nonXMLBody></component></ClinicalDocument>".as_bytes(),
        &mut sink,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(sink, b"Bonjour!");
    // Spaces inside a line too.
    let mut spaced = Vec::new();
    read(
        "<ClinicalDocument><component><nonXMLBody><text mediaType=\"text/plain\" representation=\"B64\">Qm9u am91 ciE=</text></nonXMLBody></component></ClinicalDocument>".as_bytes(),
        &mut spaced,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(spaced, b"Bonjour!");
    assert_eq!(
        cda.body,
        carnet_cda::Body::Unstructured {
            media_type: "text/plain".into(),
            size: 8
        }
    );
}

#[test]
fn what_is_not_a_cda_says_so() {
    for (xml, code) in [
        ("<html><body/></html>", "cda.not_cda"),
        ("", "cda.not_cda"),
        (
            "<ClinicalDocument><title>x</ClinicalDocument>",
            "cda.malformed",
        ),
        ("<ClinicalDocument>", "cda.malformed"),
        ("not xml at all", "cda.not_cda"),
    ] {
        let error = read_text(xml).unwrap_err();
        assert_eq!(error.code(), code, "{xml}: {error}");
        assert!(!error.to_string().contains("Error {"), "{error}");
    }
}
