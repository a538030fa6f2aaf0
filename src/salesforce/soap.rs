//! SOAP 1.1 plumbing for the Metadata API: building request envelopes and reading answers.
//!
//! Answers are deserialised with serde (quick-xml's `serialize` feature) into the caller's type.
//! Elements are matched by *local* name, so whatever prefixes Salesforce (or a proxy) picks for
//! the envelope and the metadata namespace, the same code reads them; `xsi:nil="true"` reads as
//! `None`; unknown elements are ignored. No state; no I/O.
use std::fmt;
use std::marker::PhantomData;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::de::{DeserializeOwned, EnumAccess, VariantAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// The crate's XML error type, shared with the metadata files of `mdapi`.
pub use crate::mdapi::XmlError;
/// The Metadata API's namespace (the WSDL's targetNamespace), the same constant the packages use.
pub use crate::mdapi::METADATA_NS;
const ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// A SOAP fault, as Salesforce sends it with HTTP 500.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Fault {
    /// `faultcode`, e.g. `sf:INVALID_SESSION_ID`.
    #[serde(rename = "faultcode", default)]
    pub code: String,
    /// `faultstring`, the human-readable message.
    #[serde(rename = "faultstring", default)]
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
pub enum Answer<R> {
    /// The operation's response element (e.g. `checkDeployStatusResponse`): its local name and
    /// its content read as `R`.
    Response {
        /// The element's local name.
        name: String,
        /// Its content.
        body: R,
    },
    /// A fault.
    Fault(Fault),
}

/// `<Envelope>`: only the `Body` is read (the header, if any, is ignored).
#[derive(Deserialize)]
#[serde(bound = "R: Deserialize<'de>")]
struct Envelope<R> {
    #[serde(rename = "Body")]
    body: Body<R>,
}

/// `<Body>`: its single child, whatever its name.
#[derive(Deserialize)]
#[serde(bound = "R: Deserialize<'de>")]
struct Body<R> {
    #[serde(rename = "$value")]
    child: Answer<R>,
}

/// The Body's child is read as an enum keyed by its element name: `Fault`, or the response.
impl<'de, R: Deserialize<'de>> Deserialize<'de> for Answer<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChildVisitor<R>(PhantomData<R>);
        impl<'de, R: Deserialize<'de>> Visitor<'de> for ChildVisitor<R> {
            type Value = Answer<R>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a response element or a Fault")
            }
            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
                let (name, content): (String, A::Variant) = data.variant()?;
                if name == "Fault" {
                    return content.newtype_variant().map(Answer::Fault);
                }
                let body = content.newtype_variant()?;
                Ok(Answer::Response { name, body })
            }
        }
        deserializer.deserialize_enum("Answer", &[], ChildVisitor(PhantomData))
    }
}

/// Reads an answer envelope: the single child of `Body` as `R`, or its fault.
pub fn read_answer<R: DeserializeOwned>(xml: &str) -> Result<Answer<R>, XmlError> {
    let root = root_name(xml)?;
    if root != "Envelope" {
        return Err(XmlError::Shape(format!(
            "the root is <{root}>, not <Envelope>"
        )));
    }
    match quick_xml::de::from_str::<Envelope<R>>(xml) {
        Ok(envelope) => Ok(envelope.body.child),
        Err(quick_xml::DeError::Custom(m)) if m == "missing field `$value`" => {
            Err(XmlError::Shape("an empty <Body>".into()))
        }
        Err(quick_xml::DeError::Custom(m)) if m == "missing field `Body`" => {
            Err(XmlError::Shape("no <Body>".into()))
        }
        Err(e) => Err(XmlError::Shape(e.to_string())),
    }
}

/// Checks that the whole document is well-formed (one root, balanced tags, known entities) and
/// returns its root's local name.
fn root_name(xml: &str) -> Result<String, XmlError> {
    let mut reader = Reader::from_str(xml);
    let mut root: Option<String> = None;
    let mut depth = 0usize;
    let malformed = |reader: &Reader<&[u8]>, message: String| XmlError::Syntax {
        position: reader.buffer_position(),
        message,
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(&reader, e.to_string()))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if depth == 0 && root.is_some() {
                    return Err(XmlError::Root);
                }
                if root.is_none() {
                    root = Some(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| malformed(&reader, "unbalanced end tag".into()))?;
            }
            Event::GeneralRef(r) => {
                let known = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| malformed(&reader, e.to_string()))?
                        .is_some()
                } else {
                    let name = r.decode().map_err(|e| malformed(&reader, e.to_string()))?;
                    quick_xml::escape::resolve_xml_entity(&name).is_some()
                };
                if !known {
                    return Err(malformed(&reader, "unknown entity reference".into()));
                }
            }
            Event::Eof if depth == 0 && root.is_some() => return Ok(root.unwrap_or_default()),
            Event::Eof => {
                return Err(malformed(&reader, "the document ended early".into()));
            }
            Event::Text(_)
            | Event::CData(_)
            | Event::Decl(_)
            | Event::Comment(_)
            | Event::PI(_)
            | Event::DocType(_) => {}
        }
    }
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
    use serde::de;

    use super::*;

    /// Just enough of a `checkDeployStatusResponse` to look at the reading rules.
    #[derive(Debug, Deserialize)]
    struct Check {
        result: CheckResult,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct CheckResult {
        id: Option<String>,
        state_detail: Option<String>,
        namespace: Option<String>,
    }

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
            let Answer::Response { name, body } = read_answer::<Check>(xml).unwrap() else {
                panic!("fault")
            };
            assert_eq!(name, "checkDeployStatusResponse");
            let result = body.result;
            assert_eq!(result.id.as_deref(), Some("0Af000000000001AAA"));
            assert_eq!(result.state_detail.as_deref(), Some(detail));
        }
        let Answer::Response { body, .. } = read_answer::<Check>(a).unwrap() else {
            panic!("fault")
        };
        // `<m:namespace xsi:nil="true"/>` is there, and reads as absent.
        assert!(a.contains("<m:namespace xsi:nil=\"true\"/>"));
        assert_eq!(body.result.namespace, None);
    }

    #[test]
    fn reads_faults() {
        let xml = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="http://soap.sforce.com/2006/04/metadata"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_SESSION_ID</faultcode><faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let Answer::Fault(f) = read_answer::<de::IgnoredAny>(xml).unwrap() else {
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
            read_answer::<de::IgnoredAny>("<html><body>503</body></html>"),
            Err(XmlError::Shape(_))
        ));
        assert!(matches!(
            read_answer::<de::IgnoredAny>("<a><b></a>"),
            Err(XmlError::Syntax { .. })
        ));
        assert!(matches!(
            read_answer::<de::IgnoredAny>("Service Unavailable"),
            Err(XmlError::Syntax { .. })
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
        assert!(matches!(
            read_answer::<de::IgnoredAny>(&env),
            Ok(Answer::Response { .. })
        ));
    }
}
