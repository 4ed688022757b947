//! `${{ vars.NAME }}` placeholders in manifest text. `$${{` is a literal `${{`.

/// A piece of a text with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text as it is (an escaped `$${{` already turned into `${{`).
    Text(&'a str),
    /// A variable's name.
    Var(&'a str),
}

/// What opens a placeholder.
pub const OPEN: &str = "${{";
const CLOSE: &str = "}}";
const PREFIX: &str = "vars.";

/// Why a text's placeholders cannot be read. Positions are 1-based characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    #[error(
        "unterminated placeholder: `${{{{` at character {at} has no closing `}}}}` (write `$${{{{` for a literal `${{{{`)"
    )]
    Unterminated { at: usize },
    #[error(
        "placeholder `{text}` at character {at} is not `${{{{ vars.NAME }}}}` (write `$${{{{` for a literal `${{{{`)"
    )]
    NotAVariable { text: String, at: usize },
    #[error(
        "bad variable name `{name}` at character {at}: a name is letters, digits and `_`, and does not start with a digit"
    )]
    BadName { name: String, at: usize },
}

impl PlaceholderError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Unterminated { .. } => "placeholder_unterminated",
            Self::NotAVariable { .. } => "placeholder_not_a_variable",
            Self::BadName { .. } => "placeholder_bad_name",
        }
    }
}

/// Whether `name` is a variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `text` holds a placeholder or an escape, i.e. needs [`parse`].
pub fn has_placeholder(text: &str) -> bool {
    text.contains(OPEN)
}

/// Splits `text` into text and variables.
pub fn parse(text: &str) -> Result<Vec<Piece<'_>>, PlaceholderError> {
    let chars_before = |byte: usize| text[..byte].chars().count() + 1;
    let mut pieces = Vec::new();
    let mut rest = 0;
    while let Some(found) = text[rest..].find(OPEN) {
        let start = rest + found;
        // `$${{`: the `$` before the placeholder escapes it.
        if start > rest && text[..start].ends_with('$') {
            pieces.push(Piece::Text(&text[rest..start - 1]));
            pieces.push(Piece::Text(OPEN));
            rest = start + OPEN.len();
            continue;
        }
        if start > rest {
            pieces.push(Piece::Text(&text[rest..start]));
        }
        let inner_start = start + OPEN.len();
        let end = text[inner_start..]
            .find(CLOSE)
            .map(|e| inner_start + e)
            .ok_or(PlaceholderError::Unterminated {
                at: chars_before(start),
            })?;
        let inner = text[inner_start..end].trim();
        let name = inner
            .strip_prefix(PREFIX)
            .ok_or_else(|| PlaceholderError::NotAVariable {
                text: text[start..end + CLOSE.len()].to_owned(),
                at: chars_before(start),
            })?;
        if !is_name(name) {
            return Err(PlaceholderError::BadName {
                name: name.to_owned(),
                at: chars_before(start),
            });
        }
        pieces.push(Piece::Var(name));
        rest = end + CLOSE.len();
    }
    if rest < text.len() {
        pieces.push(Piece::Text(&text[rest..]));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn splits_text_and_variables() {
        let pieces = parse("https://${{ vars.HOST }}:${{vars.PORT}}/api").ok();
        assert_eq!(
            pieces,
            Some(vec![
                Piece::Text("https://"),
                Piece::Var("HOST"),
                Piece::Text(":"),
                Piece::Var("PORT"),
                Piece::Text("/api"),
            ])
        );
    }

    #[test]
    fn a_doubled_dollar_is_a_literal_placeholder() {
        let pieces = parse("price $${{ .price }} for ${{ vars.X }}").ok();
        assert_eq!(
            pieces,
            Some(vec![
                Piece::Text("price "),
                Piece::Text("${{"),
                Piece::Text(" .price }} for "),
                Piece::Var("X"),
            ])
        );
    }

    #[test]
    fn bad_placeholders_say_where_and_why() {
        assert_eq!(
            parse("ab ${{ vars.X"),
            Err(PlaceholderError::Unterminated { at: 4 })
        );
        assert!(matches!(
            parse("${{ env.X }}"),
            Err(PlaceholderError::NotAVariable { at: 1, .. })
        ));
        assert_eq!(
            parse("é${{ vars.9lives }}"),
            Err(PlaceholderError::BadName {
                name: "9lives".into(),
                at: 2
            })
        );
        assert!(matches!(
            parse("${{ vars.a-b }}"),
            Err(PlaceholderError::BadName { .. })
        ));
        assert!(matches!(
            parse("${{ vars. }}"),
            Err(PlaceholderError::BadName { .. })
        ));
    }

    #[test]
    fn bad_placeholders_have_static_categories() {
        let category = |text| parse(text).err().map(|e| e.category());
        assert_eq!(category("${{ vars.X"), Some("placeholder_unterminated"));
        assert_eq!(category("${{ env.X }}"), Some("placeholder_not_a_variable"));
        assert_eq!(category("${{ vars.9 }}"), Some("placeholder_bad_name"));
        let wrapped = crate::vars::VarError::from(PlaceholderError::BadName {
            name: "9".into(),
            at: 0,
        });
        assert_eq!(wrapped.category(), "placeholder_bad_name");
    }

    #[test]
    fn names() {
        for good in ["A", "_", "base_URL", "x9"] {
            assert!(is_name(good), "{good}");
        }
        for bad in ["", "9x", "a-b", "a.b", "ä"] {
            assert!(!is_name(bad), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn text_without_a_placeholder_is_one_piece(text in "\\PC*") {
            prop_assume!(!text.contains(OPEN));
            let pieces = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let joined: String = pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => *t,
                    Piece::Var(_) => "<var>",
                })
                .collect();
            prop_assert_eq!(joined, text);
        }
    }
}
