//! A small XML element tree for metadata files: just enough to fold an object's decomposed
//! children into one `.object` file and write it back the way the Salesforce CLI does.
//!
//! Text is kept as written (still escaped) except that the writer escapes the raw `"`, `'` and `>`
//! the way source-deploy-retrieve's builder does (`&quot;`, `&apos;`, `&gt;`; entity and character
//! references stay as they are), so a folded object reads as `sf project convert source` writes
//! it. Metadata XML has no mixed content, so
//! whitespace between elements is layout only and is dropped; the writer re-indents with four
//! spaces, as source-deploy-retrieve's `JsToXml` (fast-xml-parser's builder) does.
use quick_xml::events::Event;
use quick_xml::Reader;

/// The declaration every metadata file starts with (source-deploy-retrieve's `XML_DECL`).
pub const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// One node below an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data, still escaped as in the source (entity references included).
    Text(String),
    /// A CDATA section's content.
    CData(String),
    /// A comment's content (between `<!--` and `-->`).
    Comment(String),
}

/// An element: its qualified name, its attributes exactly as written, its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The qualified name, e.g. `fields` or `CustomObject`.
    pub name: String,
    /// The raw attribute text after the name (e.g. ` xmlns="..."`), trimmed; empty when none.
    pub attrs: String,
    /// Children in document order.
    pub children: Vec<Node>,
}

/// Why XML could not be read: a metadata file here, or a SOAP answer in `salesforce::soap`
/// (the crate's one XML error type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not well-formed: quick-xml rejected the text.
    #[error("not well-formed XML at byte {position}: {message}")]
    Syntax {
        /// Byte offset of the error.
        position: u64,
        /// The parser's message.
        message: String,
    },
    /// Text and elements side by side in one element: metadata never does that.
    #[error("element <{0}> mixes text and elements, which metadata files never do")]
    MixedContent(String),
    /// No root element, or something after it.
    #[error("expected exactly one root element")]
    Root,
    /// Well-formed, but not the SOAP answer expected (wrong root, no `Body`, a missing or
    /// unreadable element).
    #[error("unexpected SOAP answer: {0}")]
    Shape(String),
}

impl Element {
    /// A new element without attributes or children.
    pub fn new(name: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            attrs: String::new(),
            children: Vec::new(),
        }
    }

    /// A leaf element holding already-escaped text.
    pub fn leaf(name: impl Into<String>, escaped_text: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            attrs: String::new(),
            children: vec![Node::Text(escaped_text.into())],
        }
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The raw text of a leaf element (None when it has element children).
    pub fn text(&self) -> Option<String> {
        let mut out = String::new();
        for child in &self.children {
            match child {
                Node::Text(t) => out.push_str(t),
                Node::CData(t) => out.push_str(t),
                Node::Comment(_) => {}
                Node::Element(_) => return None,
            }
        }
        Some(out)
    }

    /// The attributes as (name, raw value) pairs.
    pub fn attributes(&self) -> Vec<(String, String)> {
        let start = format!("<x {}>", self.attrs);
        let mut reader = Reader::from_str(&start);
        let mut out = Vec::new();
        if let Ok(Event::Start(tag)) = reader.read_event() {
            for attr in tag.attributes().flatten() {
                out.push((
                    String::from_utf8_lossy(attr.key.as_ref()).into_owned(),
                    String::from_utf8_lossy(&attr.value).into_owned(),
                ));
            }
        }
        out
    }
}

/// Parses a whole document into its root element. The declaration, processing instructions and
/// comments outside the root are dropped (the writer adds the standard declaration back).
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|e| XmlError::Syntax {
            position,
            message: e.to_string(),
        })?;
        match event {
            Event::Start(tag) => {
                if root.is_some() {
                    return Err(XmlError::Root);
                }
                stack.push(start_element(&tag));
            }
            Event::Empty(tag) => {
                let element = start_element(&tag);
                close(&mut stack, &mut root, element)?;
            }
            Event::End(_) => {
                // quick-xml already checked that the end tag matches the start tag.
                let element = stack.pop().ok_or(XmlError::Root)?;
                close(&mut stack, &mut root, finish(element)?)?;
            }
            Event::Text(text) => {
                let raw = String::from_utf8_lossy(&text).into_owned();
                match stack.last_mut() {
                    Some(parent) => push_text(parent, &raw),
                    None if raw.trim().is_empty() => {}
                    None => return Err(XmlError::Root),
                }
            }
            Event::GeneralRef(reference) => {
                let raw = format!("&{};", String::from_utf8_lossy(&reference));
                match stack.last_mut() {
                    Some(parent) => push_text(parent, &raw),
                    None => return Err(XmlError::Root),
                }
            }
            Event::CData(data) => {
                let raw = String::from_utf8_lossy(&data).into_owned();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::CData(raw)),
                    None => return Err(XmlError::Root),
                }
            }
            Event::Comment(comment) => {
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(Node::Comment(
                        String::from_utf8_lossy(&comment).into_owned(),
                    ));
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax {
            position: reader.buffer_position(),
            message: format!("unclosed element <{}>", stack[stack.len() - 1].name),
        });
    }
    root.ok_or(XmlError::Root)
}

fn start_element(tag: &quick_xml::events::BytesStart<'_>) -> Element {
    let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
    let attrs = String::from_utf8_lossy(tag.attributes_raw())
        .trim()
        .to_string();
    Element {
        name,
        attrs,
        children: Vec::new(),
    }
}

/// Appends text to the last text node (entity references arrive as separate events).
fn push_text(parent: &mut Element, raw: &str) {
    if let Some(Node::Text(last)) = parent.children.last_mut() {
        last.push_str(raw);
    } else {
        parent.children.push(Node::Text(raw.to_string()));
    }
}

/// Drops layout whitespace between child elements and refuses mixed content.
fn finish(mut element: Element) -> Result<Element, XmlError> {
    let has_elements = element
        .children
        .iter()
        .any(|n| matches!(n, Node::Element(_)));
    if has_elements {
        for child in &element.children {
            match child {
                Node::Text(t) if !t.trim().is_empty() => {
                    return Err(XmlError::MixedContent(element.name.clone()))
                }
                Node::CData(_) => return Err(XmlError::MixedContent(element.name.clone())),
                _ => {}
            }
        }
        element.children.retain(|n| !matches!(n, Node::Text(_)));
    }
    Ok(element)
}

fn close(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None if root.is_none() => *root = Some(element),
        None => return Err(XmlError::Root),
    }
    Ok(())
}

/// Writes a document: the standard declaration, the root indented by four spaces per level,
/// and a final newline.
pub fn write_document(root: &Element) -> String {
    let mut out = String::from(XML_DECL);
    write_element(&mut out, root, 0);
    out
}

fn write_element(out: &mut String, element: &Element, depth: usize) {
    let indent = "    ".repeat(depth);
    out.push_str(&indent);
    out.push('<');
    out.push_str(&element.name);
    if !element.attrs.is_empty() {
        out.push(' ');
        out.push_str(&element.attrs);
    }
    out.push('>');
    let has_elements = element
        .children
        .iter()
        .any(|n| matches!(n, Node::Element(_)));
    if has_elements {
        out.push('\n');
        for child in &element.children {
            match child {
                Node::Element(e) => write_element(out, e, depth + 1),
                Node::Comment(c) => {
                    out.push_str(&"    ".repeat(depth + 1));
                    out.push_str("<!--");
                    out.push_str(c);
                    out.push_str("-->\n");
                }
                // `finish` removed text from elements that have element children.
                Node::Text(_) | Node::CData(_) => {}
            }
        }
        out.push_str(&indent);
    } else {
        for child in &element.children {
            match child {
                Node::Text(t) => push_escaped(out, t),
                Node::CData(c) => {
                    out.push_str("<![CDATA[");
                    out.push_str(c);
                    out.push_str("]]>");
                }
                Node::Comment(c) => {
                    out.push_str("<!--");
                    out.push_str(c);
                    out.push_str("-->");
                }
                Node::Element(_) => {}
            }
        }
    }
    out.push_str("</");
    out.push_str(&element.name);
    out.push_str(">\n");
}

/// Appends already-escaped text, escaping the characters XML allows raw in text but
/// source-deploy-retrieve (fast-xml-parser's builder: `&`, `<`, `>`, `'`, `"`) always escapes.
/// `&` and `<` cannot be raw in parsed text, so every `&` here starts a reference, kept as is.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_text_exactly_as_escaped() {
        let doc = "<?xml version=\"1.0\"?>\n<a xmlns=\"urn:x\">\n  <b>x &amp; y &lt; z</b>\n  <c/>\n</a>\n";
        let root = parse(doc).expect("parses");
        assert_eq!(root.attrs, "xmlns=\"urn:x\"");
        assert_eq!(
            write_document(&root),
            format!(
                "{XML_DECL}<a xmlns=\"urn:x\">\n    <b>x &amp; y &lt; z</b>\n    <c></c>\n</a>\n"
            )
        );
    }

    #[test]
    fn escapes_quotes_and_gt_like_sdr_and_keeps_references() {
        // What `sf project convert source` wrote for this text (source-deploy-retrieve 12.37.2).
        let root = parse("<d>it's \"q\" &amp; &lt;x&gt; &apos;a&apos; &#65; &#x42; a>b</d>")
            .expect("parses");
        assert_eq!(
            write_document(&root),
            format!(
                "{XML_DECL}<d>it&apos;s &quot;q&quot; &amp; &lt;x&gt; &apos;a&apos; &#65; &#x42; \
                 a&gt;b</d>\n"
            )
        );
    }

    #[test]
    fn keeps_cdata_and_comments() {
        let root = parse("<a><!-- why --><b><![CDATA[<x>]]></b></a>").expect("parses");
        assert_eq!(
            write_document(&root),
            format!("{XML_DECL}<a>\n    <!-- why -->\n    <b><![CDATA[<x>]]></b>\n</a>\n")
        );
    }

    #[test]
    fn refuses_mixed_content_and_broken_documents() {
        assert_eq!(
            parse("<a>text<b/></a>"),
            Err(XmlError::MixedContent("a".into()))
        );
        assert!(matches!(parse("<a><b></a>"), Err(XmlError::Syntax { .. })));
        assert!(matches!(parse("<a>"), Err(XmlError::Syntax { .. })));
        assert_eq!(parse("<a/><b/>"), Err(XmlError::Root));
        assert_eq!(parse(""), Err(XmlError::Root));
    }

    #[test]
    fn reads_attributes() {
        let root = parse("<v xsi:type=\"xsd:string\" a='1'/>").expect("parses");
        assert_eq!(
            root.attributes(),
            vec![
                ("xsi:type".to_string(), "xsd:string".to_string()),
                ("a".to_string(), "1".to_string())
            ]
        );
    }
}
