//! Dotted field paths (`customer.address.city`, `lines.0.sku`) used by the set, rename,
//! remove and split steps. A numeric segment indexes an array.

use std::fmt;

/// A parsed dotted path. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(Vec<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("the path `{0}` has an empty segment")]
    EmptySegment(String),
}

impl PathError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Empty => "path_empty",
            Self::EmptySegment(_) => "path_empty_segment",
        }
    }
}

impl FieldPath {
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let text = text.strip_prefix('.').unwrap_or(text);
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(PathError::EmptySegment(text.to_owned()));
        }
        Ok(Self(segments))
    }

    pub fn segments(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dotted_paths_and_rejects_empty_segments() {
        assert_eq!(FieldPath::parse("a.b.0").map(|p| p.segments().len()), Ok(3));
        assert_eq!(
            FieldPath::parse(".a").map(|p| p.to_string()),
            Ok("a".into())
        );
        assert_eq!(FieldPath::parse(""), Err(PathError::Empty));
        assert!(matches!(
            FieldPath::parse("a..b"),
            Err(PathError::EmptySegment(_))
        ));
    }
}
