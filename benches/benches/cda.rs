//! CDA documents: the header read and the embedded file of a level-1 document extracted
//! (`carnet_cda::read`), against what it cannot do without — quick-xml's bare parse of the
//! same bytes plus a bare base64 decode of the same payload — in one run; and the rendering
//! of the largest level-3 example to HTML. Prints times and the ratio.
//!
//! Input: the header of the ANS level-1 example `BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml`
//! around a 10 MB embedded file (`%PDF-1.7` then random bytes), in base64 with a line break
//! every 76 characters, as CDA producers write it. Each figure is the median of 21 passes.

use std::hint::black_box;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use carnet_bench::{median_time, paired};
use carnet_cda::{Limits, read, render};

const EMBEDDED_BYTES: usize = 10 * 1000 * 1000;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/cda")
        .join(name)
}

/// The level-1 example with its PDF replaced by `embedded`, and the base64 text alone.
fn level1_with(embedded: &[u8]) -> (Vec<u8>, String) {
    let example =
        std::fs::read_to_string(fixture("BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml")).unwrap();
    let body = example.find("<nonXMLBody").unwrap();
    let text = body + example[body..].find("<text").unwrap();
    let start = text + example[text..].find('>').unwrap() + 1;
    let end = body + example[body..].find("</text>").unwrap();
    let base64 = base64::engine::general_purpose::STANDARD.encode(embedded);
    let mut lines = String::with_capacity(base64.len() * 78 / 76);
    for chunk in base64.as_bytes().chunks(76) {
        lines.push_str(std::str::from_utf8(chunk).unwrap());
        lines.push('\n');
    }
    let document = format!("{}{}{}", &example[..start], lines, &example[end..]);
    (document.into_bytes(), base64)
}

fn bare_parse(document: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(document);
    let mut buf = Vec::new();
    let mut events = 0;
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf).unwrap() {
            quick_xml::events::Event::Eof => return events,
            _ => events += 1,
        }
    }
}

fn main() {
    let mut embedded = b"%PDF-1.7\n".to_vec();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    embedded.extend((0..EMBEDDED_BYTES - embedded.len()).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    }));
    let (document, base64) = level1_with(&embedded);
    let limits = Limits::default();
    let mut out = Vec::with_capacity(EMBEDDED_BYTES);
    let cda = read(BufReader::new(document.as_slice()), &mut out, &limits).unwrap();
    assert_eq!(out, embedded, "the extraction gives the file back");
    assert!(cda.header.title.is_some());
    let mut decoded = Vec::with_capacity(EMBEDDED_BYTES);
    let rounds = 21;
    let (carnet, reference, ratio) = paired(
        rounds,
        || {
            out.clear();
            black_box(read(black_box(document.as_slice()), &mut out, &limits).unwrap());
        },
        || {
            black_box(bare_parse(black_box(&document)));
            decoded.clear();
            base64::engine::general_purpose::STANDARD
                .decode_vec(black_box(&base64), &mut decoded)
                .unwrap();
        },
    );
    println!(
        "CDA level 1: a {:.1} MB document carrying a {} MB file, median of {rounds} passes",
        document.len() as f64 / 1e6,
        EMBEDDED_BYTES / 1_000_000
    );
    println!(
        "  Carnet header + extraction          {:>8.1} ms",
        carnet.as_secs_f64() * 1e3
    );
    println!(
        "  quick-xml bare parse + base64 decode {:>7.1} ms",
        reference.as_secs_f64() * 1e3
    );
    println!(
        "  Carnet / reference                  {:>8.2}  [<= 1.5]",
        1.0 / ratio
    );

    // The largest level-3 example, rendered to HTML.
    let mut largest: Option<(u64, PathBuf)> = None;
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let path = entry.unwrap().path();
        let size = std::fs::metadata(&path).unwrap().len();
        let xml = std::fs::read(&path).unwrap();
        if xml.windows(14).any(|w| w == b"structuredBody")
            && largest.as_ref().is_none_or(|(s, _)| size > *s)
        {
            largest = Some((size, path));
        }
    }
    let (size, path) = largest.unwrap();
    let xml = std::fs::read(&path).unwrap();
    let header = read(xml.as_slice(), &mut std::io::sink(), &limits)
        .unwrap()
        .header;
    let mut html_bytes = 0;
    let time = median_time(rounds, || {
        let rendering = render(black_box(xml.as_slice()), &limits).unwrap();
        html_bytes = black_box(rendering.to_html(&header)).len();
    });
    println!(
        "CDA level 3: {} ({:.1} MB) rendered to {:.1} MB of HTML in {:.1} ms (median of {rounds})",
        path.file_name().unwrap().to_string_lossy(),
        size as f64 / 1e6,
        html_bytes as f64 / 1e6,
        time.as_secs_f64() * 1e3
    );
}
