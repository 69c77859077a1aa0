//! A level-3 document made readable: its sections in order, each with its title and its
//! narrative block (`paragraph`, `list`, `table`, `content` with its styles, `br`,
//! `renderMultiMedia` with the embedded image, `linkHtml` as text), rendered to a
//! self-contained, sanitised HTML page and to plain text.
//!
//! Written by hand over the reader's checked items, not with an HTML sanitiser: the output
//! is built from CDA's narrative elements only, each mapped to one fixed HTML element, with
//! every text escaped and no attribute copied (a cell's spans excepted, as numbers), so
//! nothing of the input can become markup; images become `data:` URIs of the three image
//! types browsers show, and a Content-Security-Policy forbids every other source.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::BufRead;

use base64::Engine as _;

use crate::events::{Events, Item, attribute, local_name};
use crate::header::Header;
use crate::{CdaError, Limits};

/// A section of the document, with the sections inside it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Its title.
    pub title: Option<String>,
    /// Its narrative block.
    pub narrative: Vec<Node>,
    /// Sections inside it.
    pub sections: Vec<Section>,
}

/// A piece of narrative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Text.
    Text(String),
    /// A line break (`br`).
    Break,
    /// An embedded image (`renderMultiMedia`), by the identifier of its `observationMedia`.
    Media(String),
    /// A narrative element and what it holds.
    Element {
        /// Which element.
        kind: Kind,
        /// What it holds.
        children: Vec<Node>,
    },
}

/// The narrative elements CDA defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `paragraph`.
    Paragraph,
    /// `list`, ordered or not.
    List {
        /// `listType="ordered"`.
        ordered: bool,
    },
    /// `item`.
    Item,
    /// `table`.
    Table,
    /// `caption`.
    Caption,
    /// `thead`, `tbody`, `tfoot`.
    RowGroup(&'static str),
    /// `tr`.
    Row,
    /// `th` or `td`, with its spans.
    Cell {
        /// `th`.
        header: bool,
        /// `colspan`.
        columns: u16,
        /// `rowspan`.
        rows: u16,
    },
    /// `content`, with its style codes (bold, italics, underline, emphasis).
    Content {
        /// The HTML elements of its styles, outermost first.
        styles: Vec<&'static str>,
    },
    /// `sub`.
    Sub,
    /// `sup`.
    Sup,
    /// `linkHtml`: shown as its text and its address, as text.
    Link {
        /// `href`, as written.
        href: Option<String>,
    },
    /// Any other element inside a narrative (`footnote`…): its text only.
    Other,
}

/// The readable document: its sections, and the images they show.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendering {
    /// The top-level sections, in order.
    pub sections: Vec<Section>,
    media: HashMap<String, (String, String)>,
}

/// Image types shown inline (as `data:` URIs).
const SHOWN_IMAGES: [&str; 3] = ["image/png", "image/jpeg", "image/gif"];

/// Reads the structured body of a level-3 document.
///
/// # Errors
/// [`CdaError`] as [`crate::read`] gives them.
pub fn render(input: impl BufRead, limits: &Limits) -> Result<Rendering, CdaError> {
    let mut events = Events::new(input, limits);
    let mut builder = Builder::default();
    loop {
        match events.next_item()? {
            Item::Open(element) => {
                let name = local_name(&element);
                builder.open(&name, &element)?;
            }
            Item::Close => builder.close(),
            Item::Text(text) => builder.text(&text, limits)?,
            Item::End => break,
        }
    }
    Ok(Rendering {
        sections: builder.sections,
        media: builder.media,
    })
}

#[derive(Default)]
struct Builder {
    path: Vec<String>,
    /// Sections open, outermost first.
    open_sections: Vec<Section>,
    sections: Vec<Section>,
    /// Narrative elements open (the `text` of a section at the bottom).
    narrative: Vec<(Kind, Vec<Node>)>,
    /// Depth of the section `text` being read.
    narrative_depth: Option<usize>,
    /// Depth of a section `title` being read, and its text.
    title: Option<(usize, String)>,
    /// An `observationMedia` being read: its id, type, and base64 text.
    media_value: Option<(usize, String, String, String)>,
    media_id: Option<String>,
    media: HashMap<String, (String, String)>,
    text_bytes: usize,
}

impl Builder {
    fn in_body(&self) -> bool {
        self.path.iter().any(|n| n == "structuredBody")
    }

    fn open(
        &mut self,
        name: &str,
        element: &quick_xml::events::BytesStart<'_>,
    ) -> Result<(), CdaError> {
        let parent = self.path.last().cloned().unwrap_or_default();
        self.path.push(name.to_owned());
        let depth = self.path.len();
        if !self.in_body() {
            return Ok(());
        }
        if self.narrative_depth.is_some() {
            let kind = match name {
                "br" => {
                    self.push_node(Node::Break);
                    self.narrative.push((Kind::Other, Vec::new()));
                    // A break holds nothing: what it might hold is dropped at its close.
                    return Ok(());
                }
                "renderMultiMedia" => {
                    if let Some(id) = attribute(element, "referencedObject")? {
                        self.push_node(Node::Media(id));
                    }
                    Kind::Other
                }
                "paragraph" => Kind::Paragraph,
                "list" => Kind::List {
                    ordered: attribute(element, "listType")?.as_deref() == Some("ordered"),
                },
                "item" => Kind::Item,
                "table" => Kind::Table,
                "caption" => Kind::Caption,
                "thead" => Kind::RowGroup("thead"),
                "tbody" => Kind::RowGroup("tbody"),
                "tfoot" => Kind::RowGroup("tfoot"),
                "tr" => Kind::Row,
                "th" | "td" => Kind::Cell {
                    header: name == "th",
                    columns: span(attribute(element, "colspan")?),
                    rows: span(attribute(element, "rowspan")?),
                },
                "content" => Kind::Content {
                    styles: styles(attribute(element, "styleCode")?.as_deref()),
                },
                "sub" => Kind::Sub,
                "sup" => Kind::Sup,
                "linkHtml" => Kind::Link {
                    href: attribute(element, "href")?,
                },
                _ => Kind::Other,
            };
            self.narrative.push((kind, Vec::new()));
            return Ok(());
        }
        match name {
            "section" => self.open_sections.push(Section::default()),
            "title" if parent == "section" => self.title = Some((depth, String::new())),
            "text" if parent == "section" => {
                self.narrative_depth = Some(depth);
                self.narrative.push((Kind::Other, Vec::new()));
            }
            "observationMedia" => self.media_id = attribute(element, "ID")?,
            "value" if parent == "observationMedia" => {
                if let Some(id) = self.media_id.clone() {
                    let media_type = attribute(element, "mediaType")?.unwrap_or_default();
                    self.media_value = Some((depth, id, media_type, String::new()));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, text: &str, limits: &Limits) -> Result<(), CdaError> {
        self.text_bytes += text.len();
        if self.text_bytes as u64 > limits.max_document_bytes {
            return Err(CdaError::TooLarge {
                what: "the document's text",
                limit: format!("{} bytes", limits.max_document_bytes),
            });
        }
        if let Some((_, _, _, base64)) = self.media_value.as_mut() {
            base64.extend(text.chars().filter(|c| !c.is_whitespace()));
        } else if let Some((_, title)) = self.title.as_mut() {
            title.push_str(text);
        } else if self.narrative_depth.is_some() {
            self.push_node(Node::Text(text.to_owned()));
        }
        Ok(())
    }

    fn push_node(&mut self, node: Node) {
        if let Some((_, children)) = self.narrative.last_mut() {
            children.push(node);
        }
    }

    fn close(&mut self) {
        let depth = self.path.len();
        let name = self.path.pop().unwrap_or_default();
        if self.title.as_ref().is_some_and(|(d, _)| *d == depth) {
            if let (Some((_, title)), Some(section)) =
                (self.title.take(), self.open_sections.last_mut())
            {
                let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
                section.title = (!title.is_empty()).then_some(title);
            }
            return;
        }
        if self.media_value.as_ref().is_some_and(|(d, ..)| *d == depth) {
            if let Some((_, id, media_type, base64)) = self.media_value.take() {
                self.media.insert(id, (media_type, base64));
            }
            return;
        }
        match self.narrative_depth {
            Some(text_depth) if depth == text_depth => {
                self.narrative_depth = None;
                let blocks = self.narrative.drain(..).flat_map(|(_, c)| c).collect();
                if let Some(section) = self.open_sections.last_mut() {
                    section.narrative = blocks;
                }
            }
            Some(_) => {
                if let Some((kind, children)) = self.narrative.pop() {
                    if name == "br" {
                        return;
                    }
                    let node = match kind {
                        Kind::Other => children,
                        kind => vec![Node::Element { kind, children }],
                    };
                    for node in node {
                        self.push_node(node);
                    }
                }
            }
            None if name == "section" => {
                if let Some(section) = self.open_sections.pop() {
                    match self.open_sections.last_mut() {
                        Some(parent) => parent.sections.push(section),
                        None => self.sections.push(section),
                    }
                }
            }
            None => {}
        }
    }
}

fn span(value: Option<String>) -> u16 {
    value
        .and_then(|v| v.parse::<u16>().ok())
        .filter(|n| (1..=100).contains(n))
        .unwrap_or(1)
}

fn styles(codes: Option<&str>) -> Vec<&'static str> {
    codes
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|code| match code {
            "Bold" => Some("strong"),
            "Italics" | "Emphasis" => Some("em"),
            "Underline" => Some("u"),
            _ => None,
        })
        .collect()
}

/// Text made safe inside HTML elements and attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60em;margin:1em auto;padding:0 1em;line-height:1.4}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #999;padding:.2em .4em;vertical-align:top}\
th{background:#eee}header p{color:#444}img{max-width:100%}";

impl Rendering {
    /// A self-contained HTML page: the header's title, date, author and patient, then every
    /// section. Nothing in it refers outside it.
    #[must_use]
    pub fn to_html(&self, header: &Header) -> String {
        let title = header.title.as_deref().unwrap_or("Document");
        let mut html = String::new();
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\
             <title>{}</title><style>{STYLE}</style></head><body>\n<header><h1>{}</h1>",
            escape(
                header
                    .language
                    .as_deref()
                    .and_then(|l| l.split('-').next())
                    .unwrap_or("fr")
            ),
            escape(title),
            escape(title),
        );
        let about = about(header);
        if !about.is_empty() {
            let _ = write!(html, "<p>{}</p>", escape(&about));
        }
        html.push_str("</header>\n");
        for section in &self.sections {
            self.section_html(section, 2, &mut html);
        }
        html.push_str("</body></html>\n");
        html
    }

    fn section_html(&self, section: &Section, level: usize, html: &mut String) {
        let level = level.min(6);
        html.push_str("<section>");
        if let Some(title) = &section.title {
            let _ = write!(html, "<h{level}>{}</h{level}>", escape(title));
        }
        for node in &section.narrative {
            self.node_html(node, html);
        }
        for inner in &section.sections {
            self.section_html(inner, level + 1, html);
        }
        html.push_str("</section>\n");
    }

    fn node_html(&self, node: &Node, html: &mut String) {
        match node {
            Node::Text(text) => html.push_str(&escape(text)),
            Node::Break => html.push_str("<br>"),
            Node::Media(id) => match self.media.get(id) {
                Some((media_type, base64))
                    if SHOWN_IMAGES.contains(&media_type.as_str())
                        && base64::engine::general_purpose::STANDARD
                            .decode(base64)
                            .is_ok() =>
                {
                    let _ = write!(
                        html,
                        "<img alt=\"\" src=\"data:{media_type};base64,{base64}\">"
                    );
                }
                Some((media_type, _)) => {
                    let _ = write!(html, "<em>[pièce jointe : {}]</em>", escape(media_type));
                }
                None => html.push_str("<em>[pièce jointe absente]</em>"),
            },
            Node::Element { kind, children } => {
                let (open, close) = match kind {
                    Kind::Paragraph => ("<p>".to_owned(), "</p>".to_owned()),
                    Kind::List { ordered: true } => ("<ol>".to_owned(), "</ol>".to_owned()),
                    Kind::List { ordered: false } => ("<ul>".to_owned(), "</ul>".to_owned()),
                    Kind::Item => ("<li>".to_owned(), "</li>".to_owned()),
                    Kind::Table => ("<table>".to_owned(), "</table>".to_owned()),
                    Kind::Caption => ("<caption>".to_owned(), "</caption>".to_owned()),
                    Kind::RowGroup(tag) => (format!("<{tag}>"), format!("</{tag}>")),
                    Kind::Row => ("<tr>".to_owned(), "</tr>".to_owned()),
                    Kind::Cell {
                        header,
                        columns,
                        rows,
                    } => {
                        let tag = if *header { "th" } else { "td" };
                        let mut open = format!("<{tag}");
                        if *columns > 1 {
                            let _ = write!(open, " colspan=\"{columns}\"");
                        }
                        if *rows > 1 {
                            let _ = write!(open, " rowspan=\"{rows}\"");
                        }
                        open.push('>');
                        (open, format!("</{tag}>"))
                    }
                    Kind::Content { styles } => (
                        styles.iter().map(|s| format!("<{s}>")).collect(),
                        styles.iter().rev().map(|s| format!("</{s}>")).collect(),
                    ),
                    Kind::Sub => ("<sub>".to_owned(), "</sub>".to_owned()),
                    Kind::Sup => ("<sup>".to_owned(), "</sup>".to_owned()),
                    Kind::Link { href } => (
                        String::new(),
                        href.as_ref()
                            .map(|h| format!(" ({})", escape(h)))
                            .unwrap_or_default(),
                    ),
                    Kind::Other => (String::new(), String::new()),
                };
                html.push_str(&open);
                for child in children {
                    self.node_html(child, html);
                }
                html.push_str(&close);
            }
        }
    }

    /// Plain text for a terminal: the header's lines, then each section's title underlined
    /// and its narrative (list items as `- `, table rows as cells between `|`).
    #[must_use]
    pub fn to_text(&self, header: &Header) -> String {
        let mut text = String::new();
        let title = header.title.as_deref().unwrap_or("Document");
        let _ = writeln!(text, "{title}\n{}", "=".repeat(title.chars().count()));
        let about = about(header);
        if !about.is_empty() {
            let _ = writeln!(text, "{about}");
        }
        text.push_str(&self.narrative_text());
        text
    }

    /// The sections' titles and narratives as plain text, without the header's lines (what
    /// the document says, for search).
    #[must_use]
    pub fn narrative_text(&self) -> String {
        let mut text = String::new();
        for section in &self.sections {
            section_text(section, 0, &mut text);
        }
        text
    }
}

/// One line on the document: its date, its first author, its patient.
fn about(header: &Header) -> String {
    let mut parts = Vec::new();
    if let Some(created) = &header.created {
        let date = &created.text;
        parts.push(match (date.get(..4), date.get(4..6), date.get(6..8)) {
            (Some(year), Some(month), Some(day)) => format!("{year}-{month}-{day}"),
            _ => date.clone(),
        });
    }
    if let Some(author) = header.authors.first() {
        if let Some(name) = author.name.as_ref().map(crate::PersonName::full) {
            parts.push(name);
        }
        if let Some(organisation) = &author.organisation {
            parts.push(organisation.clone());
        }
    }
    let patient = header.patient.display_name();
    if !patient.is_empty() {
        parts.push(format!("patient {patient}"));
    }
    parts.join(" · ")
}

fn section_text(section: &Section, depth: usize, text: &mut String) {
    text.push('\n');
    if let Some(title) = &section.title {
        let rule = if depth == 0 { '-' } else { '~' };
        let _ = writeln!(
            text,
            "{title}\n{}",
            rule.to_string().repeat(title.chars().count())
        );
    }
    let mut line = String::new();
    for node in &section.narrative {
        node_text(node, &mut line, text);
    }
    flush_line(&mut line, text);
    for inner in &section.sections {
        section_text(inner, depth + 1, text);
    }
}

fn flush_line(line: &mut String, text: &mut String) {
    let trimmed = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if !trimmed.is_empty() {
        text.push_str(&trimmed);
        text.push('\n');
    }
    line.clear();
}

fn node_text(node: &Node, line: &mut String, text: &mut String) {
    match node {
        Node::Text(t) => line.push_str(t),
        Node::Break => flush_line(line, text),
        Node::Media(_) => line.push_str(" [pièce jointe] "),
        Node::Element { kind, children } => {
            let block = matches!(
                kind,
                Kind::Paragraph
                    | Kind::Item
                    | Kind::Row
                    | Kind::Caption
                    | Kind::List { .. }
                    | Kind::Table
            );
            if block {
                flush_line(line, text);
            }
            if *kind == Kind::Item {
                line.push_str("- ");
            }
            let mut cells = 0;
            for child in children {
                if let Node::Element {
                    kind: Kind::Cell { .. },
                    children: cell,
                } = child
                {
                    if cells > 0 {
                        line.push_str(" | ");
                    }
                    cells += 1;
                    // A line break inside a cell stays on the row's line.
                    for node in cell {
                        match node {
                            Node::Break => line.push(' '),
                            other => node_text(other, line, text),
                        }
                    }
                } else if *kind != Kind::Row {
                    node_text(child, line, text);
                }
            }
            if let Kind::Link { href: Some(href) } = kind {
                let _ = write!(line, " ({href})");
            }
            if block {
                flush_line(line, text);
            }
        }
    }
}
