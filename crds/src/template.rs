//! `{{ jq }}` placeholders in text, e.g. `/orders/{{ .id }}/lines`.

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// A jq expression (without the braces), evaluated against the item.
    Expression(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unclosed `{{{{` at character {0}")]
pub struct UnclosedPlaceholder(pub usize);

/// Splits `text` into literals and expressions.
pub fn parse(text: &str) -> Result<Vec<Segment>, UnclosedPlaceholder> {
    let mut segments = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            segments.push(Segment::Literal(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or(UnclosedPlaceholder(text.len() - rest.len() + start + 1))?;
        segments.push(Segment::Expression(after[..end].trim().to_owned()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Literal(rest.to_owned()));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_literals_and_expressions() {
        assert_eq!(
            parse("/orders/{{ .id }}/x"),
            Ok(vec![
                Segment::Literal("/orders/".into()),
                Segment::Expression(".id".into()),
                Segment::Literal("/x".into()),
            ])
        );
        assert_eq!(parse("/a/{{ .id"), Err(UnclosedPlaceholder(4)));
    }
}
