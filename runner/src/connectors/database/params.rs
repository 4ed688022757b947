//! `:name` parameters in SQL, rewritten to the backend's placeholders so values are
//! bound, never spliced. Quoted strings, quoted identifiers, comments and PostgreSQL's
//! `::type` casts are left alone.

use serde_json::Value;

/// How a backend writes a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `$1`, `$2`, … (PostgreSQL).
    Numbered,
    /// `?` (MySQL, SQLite).
    Question,
}

/// SQL with placeholders and the names bound to them, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedSql {
    pub sql: String,
    /// One entry per placeholder; a name used twice is bound twice.
    pub names: Vec<String>,
}

impl NamedSql {
    pub fn parse(sql: &str, placeholder: Placeholder) -> Self {
        let chars: Vec<char> = sql.chars().collect();
        let mut out = String::with_capacity(sql.len());
        let mut names = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\'' | '"' | '`' => {
                    let end = chars[i + 1..]
                        .iter()
                        .position(|&d| d == c)
                        .map_or(chars.len(), |p| i + 1 + p + 1);
                    out.extend(&chars[i..end]);
                    i = end;
                }
                '-' if chars.get(i + 1) == Some(&'-') => {
                    let end = chars[i..]
                        .iter()
                        .position(|&d| d == '\n')
                        .map_or(chars.len(), |p| i + p);
                    out.extend(&chars[i..end]);
                    i = end;
                }
                ':' if chars.get(i + 1) == Some(&':') => {
                    out.push_str("::");
                    i += 2;
                }
                ':' if chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_ascii_alphabetic() || *d == '_') =>
                {
                    let mut end = i + 1;
                    while end < chars.len()
                        && (chars[end].is_ascii_alphanumeric()
                            || chars[end] == '_'
                            || (chars[end] == '.'
                                && chars
                                    .get(end + 1)
                                    .is_some_and(|d| d.is_ascii_alphabetic() || *d == '_')))
                    {
                        end += 1;
                    }
                    names.push(chars[i + 1..end].iter().collect());
                    match placeholder {
                        Placeholder::Numbered => out.push_str(&format!("${}", names.len())),
                        Placeholder::Question => out.push('?'),
                    }
                    i = end;
                }
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        Self { sql: out, names }
    }

    /// The value of each parameter, looked up in `item` (`a.b` walks into objects); a
    /// missing field is NULL.
    pub fn values<'a>(&self, item: &'a Value) -> Vec<&'a Value> {
        self.names
            .iter()
            .map(|name| {
                name.split('.')
                    .try_fold(item, |value, key| value.get(key))
                    .unwrap_or(&Value::Null)
            })
            .collect()
    }
}
