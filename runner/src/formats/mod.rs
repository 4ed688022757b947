//! The codecs: one file per format, one XML ↔ JSON convention (see [`xml`]), used by
//! every place that reads or writes a format — the file connectors (poll and delivery),
//! SOAP (request bodies and responses) and the `parse`/`render` steps — so the same
//! document gives the same JSON however it arrives. [`Format`] is the common shape:
//! `decode` bytes into a JSON document, `encode` a JSON value into bytes. Parse errors
//! carry a line and a column (1-based) so a human can find the fault in the source.

mod ack_details;
pub mod acks;
pub mod csv;
pub mod cxml;
mod cxml_schema;
pub mod dictionary;
pub mod edifact;
pub mod edifact_envelope;
pub mod envelope;
pub mod json;
pub mod jsonl;
pub mod segments;
#[cfg(test)]
mod tests;
pub mod x12;
pub mod x12_envelope;
pub mod xml;

use serde_json::Value;
use switchyard_crds::v1alpha1::{self as crd, CsvOptions, XmlOptions};

/// A format the codecs read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON document.
    Json,
    /// One JSON value per line.
    JsonLines,
    /// Delimiter-separated values.
    Csv,
    /// XML, by the convention of [`xml`].
    Xml,
    /// UN/EDIFACT segments.
    Edifact,
    /// ANSI X12 segments.
    X12,
    /// cXML documents, by the typed layer of [`cxml`] over [`xml`].
    Cxml,
}

/// The options of every format; each format reads its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub csv: CsvOptions,
    pub xml: XmlOptions,
    /// XML, when encoding: the root element's name. Absent: the value must be an
    /// object with one key, the root element.
    pub root: Option<String>,
}

/// Why a document could not be read or a value not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("{format} at line {line}, column {column}: {message}")]
    Parse {
        format: &'static str,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("the bytes are not UTF-8 {format} (byte {offset}): {message}")]
    NotUtf8 {
        format: &'static str,
        offset: usize,
        message: String,
    },
    /// A well-formed document without an element or attribute its format requires
    /// (`path`: `cXML/Header/Sender/Credential[1]/Identity`).
    #[error("{format} {path}: {message}")]
    Element {
        format: &'static str,
        path: String,
        message: String,
    },
    #[error("cannot write {format}: {message}")]
    Encode {
        format: &'static str,
        message: String,
    },
}

impl FormatError {
    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Parse { .. } | Self::NotUtf8 { .. } | Self::Element { .. } => "parse",
            Self::Encode { .. } => "encode",
        }
    }
}

impl Format {
    /// The name errors use, e.g. `JSON Lines`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "JSON",
            Self::JsonLines => "JSON Lines",
            Self::Csv => "CSV",
            Self::Xml => "XML",
            Self::Edifact => "EDIFACT",
            Self::X12 => "X12",
            Self::Cxml => "cXML",
        }
    }

    /// Reads a document: CSV an array of rows, JSON Lines an array of values, XML an
    /// object with one key (the root element), EDIFACT and X12 `{segments}`, cXML the
    /// shape of [`cxml`].
    pub fn decode(self, bytes: &[u8], options: &Options) -> Result<Value, FormatError> {
        if self == Self::Json {
            return json::decode(bytes);
        }
        let text = std::str::from_utf8(bytes).map_err(|e| FormatError::NotUtf8 {
            format: self.name(),
            offset: e.valid_up_to(),
            message: e.to_string(),
        })?;
        self.decode_str(text, options)
    }

    /// [`Format::decode`] of text.
    pub fn decode_str(self, text: &str, options: &Options) -> Result<Value, FormatError> {
        match self {
            Self::Json => json::decode(text.as_bytes()),
            Self::JsonLines => jsonl::decode(text),
            Self::Csv => csv::decode(text, &options.csv),
            Self::Xml => xml::decode(text, &options.xml),
            Self::Edifact => edifact::parse(text),
            Self::X12 => x12::parse(text),
            Self::Cxml => cxml::decode(text),
        }
    }

    /// Writes `value`: JSON pretty-printed; JSON Lines and CSV a line or row per array
    /// element (a single value or object: one); XML see [`xml::encode`]; EDIFACT and
    /// X12 the segments as [`Format::decode`] reads them.
    pub fn encode(self, value: &Value, options: &Options) -> Result<Vec<u8>, FormatError> {
        let encode = |message: String| FormatError::Encode {
            format: self.name(),
            message,
        };
        match self {
            Self::Json => json::encode(value),
            Self::JsonLines => Ok(jsonl::encode(value).into_bytes()),
            Self::Csv => csv::encode(value, &options.csv),
            Self::Xml => xml::encode(value, options.root.as_deref()).map(String::into_bytes),
            Self::Edifact => edifact::render(value)
                .map(String::into_bytes)
                .map_err(|e| encode(e.to_string())),
            Self::X12 => x12::render(value)
                .map(String::into_bytes)
                .map_err(|e| encode(e.to_string())),
            Self::Cxml => cxml::encode(value).map(String::into_bytes),
        }
    }

    /// [`Format::encode`] as text.
    pub fn encode_string(self, value: &Value, options: &Options) -> Result<String, FormatError> {
        let bytes = self.encode(value, options)?;
        String::from_utf8(bytes).map_err(|e| FormatError::Encode {
            format: self.name(),
            message: e.to_string(),
        })
    }
}

/// The records of a decoded document, one item each: the elements of an array (CSV
/// rows, JSON Lines values, a JSON array), else the document itself.
pub fn records(document: Value) -> Vec<Value> {
    match document {
        Value::Array(items) => items,
        other => vec![other],
    }
}

impl From<crd::Format> for Format {
    fn from(format: crd::Format) -> Self {
        match format {
            crd::Format::Csv => Self::Csv,
            crd::Format::Xml => Self::Xml,
            crd::Format::JsonLines => Self::JsonLines,
            crd::Format::Edifact => Self::Edifact,
            crd::Format::X12 => Self::X12,
            crd::Format::Cxml => Self::Cxml,
        }
    }
}

impl From<crd::FileFormat> for Format {
    fn from(format: crd::FileFormat) -> Self {
        match format {
            crd::FileFormat::Csv => Self::Csv,
            crd::FileFormat::Json => Self::Json,
            crd::FileFormat::JsonLines => Self::JsonLines,
            crd::FileFormat::Xml => Self::Xml,
        }
    }
}

impl From<crd::OutputFormat> for Format {
    fn from(format: crd::OutputFormat) -> Self {
        match format {
            crd::OutputFormat::Json => Self::Json,
            crd::OutputFormat::JsonLines => Self::JsonLines,
            crd::OutputFormat::Csv => Self::Csv,
        }
    }
}

/// A parse error at a byte offset of `text`.
pub(crate) fn error_at(
    format: &'static str,
    text: &str,
    offset: usize,
    message: impl Into<String>,
) -> FormatError {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() as u64 + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count() as u64)
        + 1;
    FormatError::Parse {
        format,
        line,
        column,
        message: message.into(),
    }
}

/// Splits `text` at `separator` unless escaped by `release`, keeping the text as it
/// is (release characters included). Returns the pieces with their byte offsets.
pub(crate) fn split_released(
    text: &str,
    base: usize,
    separator: char,
    release: Option<char>,
) -> Vec<(usize, &str)> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if Some(c) == release {
            chars.next();
        } else if c == separator {
            pieces.push((base + start, &text[start..i]));
            start = i + c.len_utf8();
        }
    }
    pieces.push((base + start, &text[start..]));
    pieces
}

/// Drops release characters: `50?+` → `50+`.
pub(crate) fn unrelease(text: &str, release: Option<char>) -> String {
    let Some(release) = release else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == release {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}
