//! The sample interchanges of runner/tests/fixtures/edi, read for the tests of the
//! dictionary and of the acknowledgements built from it.

use super::Standard;
use crate::formats::envelope::Interchange;
use crate::formats::{edifact, edifact_envelope, x12, x12_envelope};

/// The text of a sample interchange.
pub(crate) fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/edi/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `text` parsed into segments and read as an interchange whose envelopes are sound.
pub(crate) fn interchange(standard: Standard, text: &str) -> Interchange {
    let parsed = match standard {
        Standard::Edifact => edifact::parse(text),
        Standard::X12 => x12::parse(text),
    }
    .unwrap_or_else(|e| panic!("{e}"));
    let segments = parsed["segments"].as_array().cloned().unwrap_or_default();
    let (interchange, error) = match standard {
        Standard::Edifact => edifact_envelope::read(&segments),
        Standard::X12 => x12_envelope::read(&segments),
    };
    assert_eq!(error, None, "{text}");
    interchange
}
