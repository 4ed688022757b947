//! The bundled message dictionary: a small subset of UN/EDIFACT D.96A (ORDERS, DESADV,
//! INVOIC) and X12 004010 (850, 856, 810) — segment order, mandatory segments, maximum
//! repetitions, segment groups (loops), and per element its maximum (and minimum)
//! length, whether it is mandatory and its character type. The data are the JSON files
//! beside this module, compiled in and read once; [`check`] walks a received message
//! against them.
//!
//! Data syntax: an element is `"1004 C an..35"` (EDIFACT: id, `M` or `C`, type and
//! length) or `"324 M AN 1/22"` (X12: id, `M`, `O` or `X`, type, min/max); a composite
//! `"C507 M [2005 M an..3, 2380 C an..35]"`. A message is a list of `"DTM M 35"` (tag,
//! usage, maximum repetitions, `>1` for unbounded) and groups `{"group": "SG2 C 99",
//! "segments": [...]}`, whose first segment starts each repetition.

mod check;
mod faults;
mod load;
#[cfg(test)]
pub(crate) mod samples;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use check::check;
pub use faults::{
    ElementFault, ElementProblem, Fault, Reason, Rejection, Rejections, SegmentProblem,
};

/// Which syntax a dictionary (or a message) is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standard {
    /// UN/EDIFACT, directory D.96A.
    Edifact,
    /// ANSI X12, version 004010.
    X12,
}

impl Standard {
    /// The name errors use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Edifact => "EDIFACT",
            Self::X12 => "X12",
        }
    }
}

/// The character type of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharType {
    /// EDIFACT `a`: no digits.
    Alpha,
    /// X12 `N0`..`N9`: digits (and a leading minus); the length counts the digits.
    Integer,
    /// EDIFACT `n`, X12 `R`: a decimal number; sign and decimal mark are not counted.
    Decimal,
    /// EDIFACT `an`, X12 `AN` and `ID`: any characters.
    Text,
    /// X12 `DT`: a date, `CCYYMMDD` (or `YYMMDD`).
    Date,
    /// X12 `TM`: a time, `HHMM` with optional seconds.
    Time,
}

impl CharType {
    /// What a value of this type is, as errors name it.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Alpha => "alphabetic",
            Self::Integer => "an integer",
            Self::Decimal => "numeric",
            Self::Text => "text",
            Self::Date => "a date",
            Self::Time => "a time",
        }
    }
}

/// A simple element (or a component of a composite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementDef {
    /// The data element number, e.g. `1004` or `324`.
    pub id: String,
    pub mandatory: bool,
    pub kind: CharType,
    pub min: usize,
    pub max: usize,
}

/// One element position of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// A simple data element.
    Simple(ElementDef),
    /// A composite (e.g. EDIFACT `C507`) of components.
    Composite {
        id: String,
        mandatory: bool,
        components: Vec<ElementDef>,
    },
}

/// One entry of a message's segment table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A segment with its usage and maximum repetitions.
    Segment {
        tag: String,
        mandatory: bool,
        max: usize,
    },
    /// A segment group (X12 loop): its first entry is its trigger segment.
    Group {
        id: String,
        mandatory: bool,
        max: usize,
        entries: Vec<Entry>,
    },
}

impl Entry {
    /// The tag that starts this entry: the segment's, or the group's first.
    pub fn trigger(&self) -> &str {
        match self {
            Self::Segment { tag, .. } => tag,
            Self::Group { entries, .. } => entries.first().map_or("", Entry::trigger),
        }
    }

    pub fn mandatory(&self) -> bool {
        match self {
            Self::Segment { mandatory, .. } | Self::Group { mandatory, .. } => *mandatory,
        }
    }

    /// Whether `tag` appears anywhere in this entry.
    fn holds(&self, tag: &str) -> bool {
        match self {
            Self::Segment { tag: own, .. } => own == tag,
            Self::Group { entries, .. } => entries.iter().any(|e| e.holds(tag)),
        }
    }
}

/// The dictionary of one standard and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dictionary {
    pub standard: Standard,
    /// `D96A` or `004010`.
    pub version: String,
    /// The segment directory: element definitions per tag.
    pub segments: HashMap<String, Vec<Element>>,
    /// The segment table per message type (`ORDERS`, `850`).
    pub messages: HashMap<String, Vec<Entry>>,
}

/// The bundled data could not be read: a fault in the files beside this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bundled dictionary {file}: {message}")]
pub struct DataError {
    pub file: &'static str,
    pub message: String,
}

impl DataError {
    /// A static label for metrics.
    pub fn category(&self) -> &'static str {
        "dictionary_data"
    }
}

/// The bundled dictionary of `standard`.
pub fn bundled(standard: Standard) -> Result<&'static Dictionary, DataError> {
    let loaded = match standard {
        Standard::Edifact => &*load::EDIFACT,
        Standard::X12 => &*load::X12,
    };
    loaded.as_ref().map_err(Clone::clone)
}
