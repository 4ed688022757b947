//! Admission rules of the CRD schemas: the cross-field checks of validation, written as
//! CEL (`x-kubernetes-validations`) so that the API server refuses what the runner
//! refuses. Only objects outside lists carry CEL rules (the API server multiplies a
//! rule's cost by the size a list may reach); patterns and `oneOf` serve inside lists.
//! The rules use only standard CEL (`has`, `size`, `contains`, comparisons), which any
//! CEL evaluator runs the same way.

use kube::core::{Message, Rule};

/// Letters, digits and `_`, not starting with a digit (a SQL identifier or an XML name).
pub(crate) const IDENTIFIER: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
/// An identifier, optionally schema-qualified (`sales.orders`).
pub(crate) const QUALIFIED_IDENTIFIER: &str =
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$";
/// A JSON pointer (RFC 6901), or empty.
pub(crate) const JSON_POINTER: &str = "^(/.*)?$";
/// A dotted field path (`customer.address.city`), optionally with a leading `.`.
pub(crate) const DOTTED_PATH: &str = r"^\.?[^.]+(\.[^.]+)*$";
/// Text with at least one character that is not white space.
pub(crate) const NOT_BLANK: &str = r"\S";
/// One ASCII character.
pub(crate) const ONE_ASCII_CHARACTER: &str = r"^[\x00-\x7F]$";
/// An absolute path.
pub(crate) const ABSOLUTE_PATH: &str = "^/";
/// An `http://` or `https://` URL.
pub(crate) const HTTP_URL: &str = "^(?i)https?://";
/// A URL of a database the runner can open.
pub(crate) const DATABASE_URL: &str = "^(?i)(postgres|postgresql|mysql|mariadb|sqlite):";
/// An XML element (raw header blocks of SOAP).
pub(crate) const XML_ELEMENT: &str = r"^\s*<";

fn count(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| format!("(has(self.{f}) ? 1 : 0)"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A rule with its message.
pub(crate) fn rule(expression: &str, message: &str) -> Rule {
    Rule::new(expression).message(Message::Message(message.to_owned()))
}

/// Exactly one of `fields` is set.
pub(crate) fn exactly_one(fields: &[&str]) -> Rule {
    rule(
        &format!("{} == 1", count(fields)),
        &format!("set exactly one of: {}", fields.join(", ")),
    )
}

/// At most one of `fields` is set.
pub(crate) fn at_most_one(fields: &[&str]) -> Rule {
    rule(
        &format!("{} <= 1", count(fields)),
        &format!("set at most one of: {}", fields.join(", ")),
    )
}
