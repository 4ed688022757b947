//! A problem found in a manifest: where (file, resource, field) and what.

use std::fmt;
use std::path::PathBuf;

/// Identifies one resource: `Kind/namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// A place in a file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where a resource came from: a file (and the document's index in it) or, in the
/// cluster, nothing but its identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: Option<PathBuf>,
    /// 1-based index of the YAML document inside the file.
    pub document: Option<usize>,
    /// The exact place, when known (YAML syntax errors): shown as `file:line:column`.
    pub position: Option<Position>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(file) = &self.file else {
            return write!(f, "<cluster>");
        };
        write!(f, "{}", file.display())?;
        if let Some(Position { line, column }) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        match self.document {
            Some(doc) => write!(f, " (document {doc})"),
            None => Ok(()),
        }
    }
}

/// One thing wrong with the manifests. Its `Display` names the file, the resource and the
/// field, so a human can go straight to the line to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub origin: Origin,
    /// `None` when the document could not even be identified (bad YAML, no kind).
    pub resource: Option<ResourceId>,
    /// Dotted field path, e.g. `spec.outgoing.connection`; empty for the whole document.
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(
        origin: &Origin,
        resource: Option<&ResourceId>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            origin: origin.clone(),
            resource: resource.cloned(),
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(resource) = &self.resource {
            write!(f, ": {resource}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A problem with one field of a resource, before it is placed in a file and resource:
/// what validation, compilation and the runner's build pass along, so the field stays a
/// field and is never formatted into a message and parsed back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_field(.field, .message))]
pub struct FieldProblem {
    /// Dotted field path, e.g. `spec.incoming.poll.schedule`; empty for the whole
    /// resource.
    pub field: String,
    pub message: String,
}

fn render_field(field: &str, message: &str) -> String {
    if field.is_empty() {
        message.to_owned()
    } else {
        format!("field `{field}`: {message}")
    }
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self {
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// A problem of the whole resource (no single field).
    pub fn whole(message: impl std::fmt::Display) -> Self {
        Self::new(String::new(), message)
    }

    /// The problem placed in its file and resource.
    pub fn at(self, origin: &Origin, id: &ResourceId) -> Problem {
        Problem {
            origin: origin.clone(),
            resource: Some(id.clone()),
            field: self.field,
            message: self.message,
        }
    }
}

/// Every problem found, so a user fixes them all in one go instead of one per run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the manifests:\n{}", .0.len(), render(.0))]
pub struct Problems(pub Vec<Problem>);

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
