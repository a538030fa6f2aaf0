//! SOAP 1.1 plumbing for the Metadata API: building request envelopes and reading answers.
//!
//! Answers are read into a small element tree keyed by *local* names, so whatever prefixes
//! Salesforce (or a proxy) picks for the envelope and the metadata namespace, the same code reads
//! them. No state; no I/O.
use quick_xml::events::Event;
use quick_xml::Reader;

/// The Metadata API's namespace (the WSDL's targetNamespace), the same constant the packages use.
pub use crate::mdapi::METADATA_NS;
const ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not well-formed XML.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// Well-formed, but not the expected shape.
    #[error("unexpected SOAP answer: {0}")]
    Shape(String),
}

/// One element of an answer: its local name, its text, its children, and whether it was
/// `xsi:nil="true"` (the WSDL marks `methodName`, `stackTrace`, `namespace`... nillable).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    /// Local name (no prefix).
    pub name: String,
    /// Concatenated text content (entities resolved).
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// `xsi:nil="true"`.
    pub nil: bool,
}

impl Element {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name (arrays are repeated elements).
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of a child, `None` when absent or nil.
    pub fn text_of(&self, name: &str) -> Option<String> {
        self.child(name)
            .filter(|c| !c.nil)
            .map(|c| c.text.trim().to_string())
    }
}

/// Parses a whole document into its root element.
pub fn parse(xml: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let malformed = |e: &dyn std::fmt::Display| XmlError::Malformed(e.to_string());
    loop {
        match reader.read_event().map_err(|e| malformed(&e))? {
            Event::Start(start) => stack.push(element_from(&start)?),
            Event::Empty(start) => {
                let el = element_from(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text
                        .push_str(&t.xml_content().map_err(|e| malformed(&e))?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text
                        .push_str(&t.xml_content().map_err(|e| malformed(&e))?);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| malformed(&e))?
                        .map(String::from)
                } else {
                    let name = r.decode().map_err(|e| malformed(&e))?;
                    quick_xml::escape::resolve_xml_entity(&name).map(String::from)
                };
                let resolved = resolved
                    .ok_or_else(|| XmlError::Malformed("unknown entity reference".into()))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => {
                return Err(XmlError::Malformed("the document ended early".into()));
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

fn element_from(start: &quick_xml::events::BytesStart<'_>) -> Result<Element, XmlError> {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut nil = false;
    for attr in start.attributes().flatten() {
        if attr.key.local_name().as_ref() == b"nil" {
            nil = attr.value.as_ref() == b"true" || attr.value.as_ref() == b"1";
        }
    }
    Ok(Element {
        name,
        nil,
        ..Element::default()
    })
}

/// A SOAP fault, as Salesforce sends it with HTTP 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `faultcode`, e.g. `sf:INVALID_SESSION_ID`.
    pub code: String,
    /// `faultstring`, the human-readable message.
    pub string: String,
}

impl Fault {
    /// The fault code without its prefix: `INVALID_SESSION_ID`.
    pub fn local_code(&self) -> &str {
        self.code.rsplit(':').next().unwrap_or(&self.code)
    }
}

/// What the Body of an answer held.
#[derive(Debug)]
pub enum Answer {
    /// The operation's response element (e.g. `checkDeployStatusResponse`).
    Response(Element),
    /// A fault.
    Fault(Fault),
}

/// Reads an answer envelope: the single child of `Body`, or its fault.
pub fn read_answer(xml: &str) -> Result<Answer, XmlError> {
    let root = parse(xml)?;
    if root.name != "Envelope" {
        return Err(XmlError::Shape(format!(
            "the root is <{}>, not <Envelope>",
            root.name
        )));
    }
    let body = root
        .child("Body")
        .ok_or_else(|| XmlError::Shape("no <Body>".into()))?;
    let first = body
        .children
        .first()
        .ok_or_else(|| XmlError::Shape("an empty <Body>".into()))?;
    if first.name == "Fault" {
        return Ok(Answer::Fault(Fault {
            code: first.text_of("faultcode").unwrap_or_default(),
            string: first.text_of("faultstring").unwrap_or_default(),
        }));
    }
    Ok(Answer::Response(first.clone()))
}

/// Escapes text for element content.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// A request envelope: the session header and one operation element in the metadata namespace.
/// `operation_body` is already-escaped XML for the operation's children.
pub fn envelope(session_id: &str, operation: &str, operation_body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soapenv:Envelope xmlns:soapenv=\"{ENVELOPE_NS}\" xmlns:met=\"{METADATA_NS}\">\
         <soapenv:Header><met:SessionHeader><met:sessionId>{}</met:sessionId></met:SessionHeader>\
         </soapenv:Header>\
         <soapenv:Body><met:{operation}>{operation_body}</met:{operation}></soapenv:Body>\
         </soapenv:Envelope>",
        escape(session_id)
    )
}

/// One `<met:name>text</met:name>` child, text escaped.
pub fn field(name: &str, text: &str) -> String {
    format!("<met:{name}>{}</met:{name}>", escape(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_answers_whatever_the_prefixes() {
        let a = r#"<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://soap.sforce.com/2006/04/metadata" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <S:Body><m:checkDeployStatusResponse><m:result>
  <m:id>0Af000000000001AAA</m:id><m:stateDetail>a &amp; b &#x263A; <![CDATA[<c>]]></m:stateDetail>
  <m:namespace xsi:nil="true"/>
 </m:result></m:checkDeployStatusResponse></S:Body></S:Envelope>"#;
        let b = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><checkDeployStatusResponse xmlns="http://soap.sforce.com/2006/04/metadata"><result><id>0Af000000000001AAA</id><stateDetail>x</stateDetail></result></checkDeployStatusResponse></soapenv:Body></soapenv:Envelope>"#;
        for (xml, detail) in [(a, "a & b ☺ <c>"), (b, "x")] {
            let Answer::Response(r) = read_answer(xml).unwrap() else {
                panic!("fault")
            };
            assert_eq!(r.name, "checkDeployStatusResponse");
            let result = r.child("result").unwrap();
            assert_eq!(result.text_of("id").as_deref(), Some("0Af000000000001AAA"));
            assert_eq!(result.text_of("stateDetail").as_deref(), Some(detail));
        }
        let Answer::Response(r) = read_answer(a).unwrap() else {
            panic!("fault")
        };
        let result = r.child("result").unwrap();
        assert!(result.child("namespace").unwrap().nil);
        assert_eq!(result.text_of("namespace"), None);
    }

    #[test]
    fn reads_faults() {
        let xml = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="http://soap.sforce.com/2006/04/metadata"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_SESSION_ID</faultcode><faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let Answer::Fault(f) = read_answer(xml).unwrap() else {
            panic!("not a fault")
        };
        assert_eq!(f.local_code(), "INVALID_SESSION_ID");
        assert!(f
            .string
            .starts_with("INVALID_SESSION_ID: Invalid Session ID"));
    }

    #[test]
    fn refuses_what_is_not_an_envelope() {
        assert!(matches!(
            read_answer("<html><body>503</body></html>"),
            Err(XmlError::Shape(_))
        ));
        assert!(matches!(
            read_answer("<a><b></a>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            read_answer("Service Unavailable"),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn envelope_escapes_the_session_id() {
        let env = envelope("00D!a<b", "cancelDeploy", &field("String", "0Af&"));
        assert!(
            env.contains("<met:sessionId>00D!a&lt;b</met:sessionId>"),
            "{env}"
        );
        assert!(
            env.contains("<met:cancelDeploy><met:String>0Af&amp;</met:String></met:cancelDeploy>")
        );
        assert!(matches!(read_answer(&env), Ok(Answer::Response(_))));
    }
}
