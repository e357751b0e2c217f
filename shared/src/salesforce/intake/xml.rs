//! A small owned-token view over quick-xml's namespace-aware reader, so the outbound-message
//! parser can be written as plain recursive descent without fighting borrows.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// One start tag, with what the parser needs from its attributes already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartTag {
    /// The namespace URI, `None` when the element is in no namespace.
    pub ns: Option<String>,
    pub local: String,
    /// `xsi:nil="true"`.
    pub nil: bool,
    /// `xsi:type`, as written (`sf:Account`).
    pub xsi_type: Option<String>,
}

impl StartTag {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }

    pub fn describe(&self) -> String {
        match &self.ns {
            Some(ns) => format!("`{}` in namespace {ns}", self.local),
            None => format!("`{}` without a namespace", self.local),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Start(StartTag),
    End,
    /// Text with entity and character references resolved.
    Text(String),
    Eof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Doctype,
    Malformed(String),
}

pub struct Tokens<'i> {
    reader: NsReader<&'i [u8]>,
    peeked: Option<Token>,
}

impl<'i> Tokens<'i> {
    pub fn new(text: &'i str) -> Self {
        let mut reader = NsReader::from_str(text);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        Tokens {
            reader,
            peeked: None,
        }
    }

    pub fn next_token(&mut self) -> Result<Token, TokenError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.read(),
        }
    }

    /// Reads the next token, merging adjacent text, CDATA and references into one `Text`.
    fn read(&mut self) -> Result<Token, TokenError> {
        let mut text: Option<String> = None;
        loop {
            let (ns, event) = self
                .reader
                .read_resolved_event()
                .map_err(|e| TokenError::Malformed(e.to_string()))?;
            // Own the namespace now: the resolver's answer borrows the reader.
            let ns = OwnedNs::from(ns);
            let piece = match event {
                Event::Text(t) => t.xml10_content().into_owned(),
                Event::CData(c) => c.xml10_content().into_owned(),
                Event::GeneralRef(r) => {
                    if r.is_char_ref() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) => c.to_string(),
                            _ => {
                                return Err(TokenError::Malformed(format!(
                                    "bad character reference `&{};`",
                                    r.into_inner()
                                )));
                            }
                        }
                    } else {
                        let name = r.into_inner();
                        match resolve_predefined_entity(&name) {
                            Some(s) => s.to_owned(),
                            None => {
                                return Err(TokenError::Malformed(format!(
                                    "undeclared entity `&{name};`"
                                )));
                            }
                        }
                    }
                }
                Event::DocType(_) => return Err(TokenError::Doctype),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => continue,
                other => {
                    if let Some(text) = text {
                        // Hand the text out now; the structural event is re-read next time.
                        self.peeked = Some(self.structural(ns, other)?);
                        return Ok(Token::Text(text));
                    }
                    return self.structural(ns, other);
                }
            };
            text.get_or_insert_with(String::new).push_str(&piece);
        }
    }

    fn structural(&self, ns: OwnedNs, event: Event<'_>) -> Result<Token, TokenError> {
        match event {
            Event::Start(start) => Ok(Token::Start(self.start_tag(ns, &start)?)),
            Event::End(_) => Ok(Token::End),
            Event::Eof => Ok(Token::Eof),
            // Empty elements are expanded to Start + End by the reader configuration.
            other => Err(TokenError::Malformed(format!("unexpected {other:?}"))),
        }
    }

    fn start_tag(&self, ns: OwnedNs, start: &BytesStart<'_>) -> Result<StartTag, TokenError> {
        let ns = match ns {
            OwnedNs::Bound(uri) => Some(uri),
            OwnedNs::Unbound => None,
            OwnedNs::Unknown(prefix) => {
                return Err(TokenError::Malformed(format!(
                    "prefix `{prefix}` is not declared"
                )));
            }
        };
        let local = start.local_name().as_ref().to_owned();
        let mut nil = false;
        let mut xsi_type = None;
        for attr in start.attributes() {
            let attr = attr.map_err(|e| TokenError::Malformed(e.to_string()))?;
            let (attr_ns, attr_local) = self.reader.resolver().resolve_attribute(attr.key);
            let in_xsi = matches!(attr_ns, ResolveResult::Bound(Namespace(uri)) if uri == XSI_NS);
            if !in_xsi {
                continue;
            }
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| TokenError::Malformed(e.to_string()))?;
            match attr_local.as_ref() {
                "nil" => nil = value.trim() == "true" || value.trim() == "1",
                "type" => xsi_type = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        Ok(StartTag {
            ns,
            local,
            nil,
            xsi_type,
        })
    }
}

enum OwnedNs {
    Bound(String),
    Unbound,
    Unknown(String),
}

impl From<ResolveResult<'_>> for OwnedNs {
    fn from(ns: ResolveResult<'_>) -> Self {
        match ns {
            ResolveResult::Bound(Namespace(uri)) => OwnedNs::Bound(uri.to_owned()),
            ResolveResult::Unbound => OwnedNs::Unbound,
            ResolveResult::Unknown(prefix) => OwnedNs::Unknown(prefix),
        }
    }
}
