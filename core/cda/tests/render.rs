//! Level-3 documents rendered to a sanitised, self-contained HTML page and to plain text:
//! every section title of every ANS example present, nothing executable or external, and a
//! hostile narrative shown as text.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::BufReader;
use std::path::Path;

use carnet_cda::{Body, Limits, read, render};

fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// No script, no external reference: every tag's attributes are among the few the renderer
/// writes, and an image's source is a `data:` URI.
fn assert_inert(html: &str, name: &str) {
    let lower = html.to_lowercase();
    for forbidden in [
        "<script",
        "javascript:",
        "<iframe",
        "<object",
        "<embed",
        "<a ",
        "url(",
    ] {
        assert!(
            !lower.contains(forbidden),
            "{name}: {forbidden:?} in the HTML"
        );
    }
    const ALLOWED: [&str; 8] = [
        "lang",
        "charset",
        "http-equiv",
        "content",
        "alt",
        "src",
        "colspan",
        "rowspan",
    ];
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap();
        for attribute in tag.split_whitespace().skip(1).filter(|a| a.contains('=')) {
            let (key, value) = attribute.split_once('=').unwrap();
            assert!(
                ALLOWED.contains(&key),
                "{name}: attribute {key:?} in <{tag}>"
            );
            if key == "src" {
                assert!(value.starts_with("\"data:image/"), "{name}: {attribute}");
            }
        }
    }
}

#[test]
fn every_level_3_example_is_rendered_with_all_its_section_titles() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cda");
    let mut rendered = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let open = || BufReader::new(std::fs::File::open(&path).unwrap());
        let cda = read(open(), &mut std::io::sink(), &Limits::default()).unwrap();
        let Body::Structured { section_titles } = &cda.body else {
            continue;
        };
        let rendering = render(open(), &Limits::default()).unwrap();
        let html = rendering.to_html(&cda.header);
        let text = rendering.to_text(&cda.header);
        assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(
            html.contains(&escaped(cda.header.title.as_deref().unwrap())),
            "{name}"
        );
        for title in section_titles {
            assert!(
                html.contains(&escaped(title)),
                "{name}: section {title:?} missing"
            );
            assert!(
                text.contains(title.as_str()),
                "{name}: section {title:?} missing in text"
            );
        }
        assert_inert(&html, &name);
        rendered += 1;
    }
    assert_eq!(rendered, 60);
}

#[test]
fn narrative_elements_become_fixed_html_and_images_data_uris() {
    let xml = r#"<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Essai</title>
<component><structuredBody><component><section><title>Résultats &amp; commentaires</title>
<text><paragraph>Glycémie <content styleCode="Bold">0,95</content> g/L<br/>normale</paragraph>
<list listType="ordered"><item>un</item><item>deux</item></list>
<table><thead><tr><th>Examen</th><th colspan="2">Valeur</th></tr></thead>
<tbody><tr><td>TSH</td><td>1,2</td><td onclick="x()">mUI/L</td></tr></tbody></table>
<content>&lt;script&gt;alert(1)&lt;/script&gt;</content>
<script>alert(2)</script>
<linkHtml href="javascript:alert(3)">ici</linkHtml>
<renderMultiMedia referencedObject="png1"/><renderMultiMedia referencedObject="svg1"/>
</text>
<entry><observationMedia ID="png1"><value mediaType="image/png" representation="B64">iVBORw0KGgo=</value></observationMedia></entry>
<entry><observationMedia ID="svg1"><value mediaType="image/svg+xml" representation="B64">PHN2Zy8+</value></observationMedia></entry>
<component><section><title>Sous-section</title><text>détail</text></section></component>
</section></component></structuredBody></component></ClinicalDocument>"#;
    let cda = read(xml.as_bytes(), &mut std::io::sink(), &Limits::default()).unwrap();
    let rendering = render(xml.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(rendering.sections.len(), 1);
    assert_eq!(
        rendering.sections[0].sections[0].title.as_deref(),
        Some("Sous-section")
    );
    let html = rendering.to_html(&cda.header);
    for expected in [
        "<h2>Résultats &amp; commentaires</h2>",
        "<p>Glycémie <strong>0,95</strong> g/L<br>normale</p>",
        "<ol><li>un</li><li>deux</li></ol>",
        "<th colspan=\"2\">Valeur</th>",
        "<td>mUI/L</td>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "alert(2)",
        "ici (javascript:alert(3))",
        "<img alt=\"\" src=\"data:image/png;base64,iVBORw0KGgo=\">",
        "<em>[pièce jointe : image/svg+xml]</em>",
        "<h3>Sous-section</h3>",
        "default-src 'none'",
    ] {
        assert!(html.contains(expected), "{expected:?} not in {html}");
    }
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("onclick"), "{html}");
    assert!(!html.contains("data:image/svg"), "{html}");
    let text = rendering.to_text(&cda.header);
    for expected in [
        "Résultats & commentaires",
        "- un",
        "Examen | Valeur",
        "TSH | 1,2 | mUI/L",
        "ici (javascript:alert(3))",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
}
