//! SOAP envelopes and faults as Salesforce writes them, request parsing, and the capture of every
//! exchange for `.ci/xml-checks.sh`.
use super::*;

/// Where `capture` writes every SOAP message, when set: `.ci/xml-checks.sh` validates them all
/// against the WSDL, so the fake's answers and sfhooks' requests are proven schema-valid rather
/// than only hand-checked.
pub const CAPTURE_ENV: &str = "SFHOOKS_SOAP_CAPTURE_DIR";

/// Writes the request (if it came from sfhooks) and the answer of one SOAP exchange into
/// `$SFHOOKS_SOAP_CAPTURE_DIR`.
pub(super) fn capture(request: Option<&str>, reply: &Reply) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let Some(dir) = std::env::var_os(CAPTURE_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("create the SOAP capture folder");
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stem = format!("{}-{n:05}", std::process::id());
    if let Some(request) = request {
        std::fs::write(dir.join(format!("{stem}-request.xml")), request)
            .expect("capture a request");
    }
    // Only SOAP answers: scripted outages answer with an HTML page, as a proxy in front of
    // Salesforce would.
    if let Reply::Answer(_, content_type, answer) = reply {
        if !content_type.starts_with("text/xml") {
            return;
        }
        std::fs::write(dir.join(format!("{stem}-answer.xml")), answer).expect("capture an answer");
    }
}

pub(super) fn esc(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

pub(super) fn ok(response: &str, inner: &str) -> Reply {
    Reply::Answer(
        StatusCode::OK,
        "text/xml; charset=utf-8",
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
             xmlns:soapenv=\"{SOAPENV_NS}\" xmlns=\"{MD_NS}\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>\
             <{response}>{inner}</{response}></soapenv:Body></soapenv:Envelope>"
        ),
    )
}

/// A SOAP fault as Salesforce sends it: HTTP 500, `sf:` prefixed code.
pub(super) fn fault(code: &str, message: &str) -> Reply {
    Reply::Answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        "text/xml; charset=utf-8",
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
             xmlns:soapenv=\"{SOAPENV_NS}\" xmlns:sf=\"{MD_NS}\"><soapenv:Body><soapenv:Fault>\
             <faultcode>{}</faultcode><faultstring>{}</faultstring></soapenv:Fault>\
             </soapenv:Body></soapenv:Envelope>",
            esc(code),
            esc(message)
        ),
    )
}

/// Salesforce's wording for a request element the schema does not allow where it is.
pub(super) fn invalid_at_this_location(name: &str) -> Reply {
    fault(
        "soapenv:Client",
        &format!("Element {{{MD_NS}}}{name} invalid at this location"),
    )
}

pub(super) fn invalid_session() -> Reply {
    fault(
        "sf:INVALID_SESSION_ID",
        "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session",
    )
}

/// Parses a request with namespaces resolved.
pub(super) fn parse(xml: &str) -> Result<Node, String> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| e.to_string())?;
        let ns = match ns {
            ResolveResult::Bound(n) => String::from_utf8_lossy(n.0).into_owned(),
            _ => String::new(),
        };
        match event {
            Event::Start(e) => stack.push(Node {
                ns,
                name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                ..Node::default()
            }),
            Event::Empty(e) => {
                let node = Node {
                    ns,
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Node::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text
                        .push_str(&t.xml_content().map_err(|e| e.to_string())?);
                }
            }
            Event::GeneralRef(r) => {
                let text = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| e.to_string())?
                        .map(String::from)
                } else {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    quick_xml::escape::resolve_xml_entity(&name).map(String::from)
                };
                let text = text.ok_or("unknown entity")?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::Eof => return Err("the document ended early".into()),
            _ => {}
        }
    }
}
