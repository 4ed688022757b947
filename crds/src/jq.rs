//! Compiling jq programs with `jaq`. Validation and the runner share this function, so a
//! program that validates is exactly a program that runs.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Native};
use jaq_json::Val;

/// A compiled jq program, ready to run on [`jaq_json::Val`] inputs.
pub type JqFilter = jaq_core::Filter<Native<Val>>;

/// Why a jq program did not compile; the text says where in the program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("jq program does not compile: {0}")]
pub struct JqCompileError(pub String);

/// Compiles `code` with jq's standard library and JSON functions.
pub fn compile(code: &str) -> Result<JqFilter, JqCompileError> {
    let program = File { code, path: () };
    let loader = Loader::new(jaq_std::defs().chain(jaq_json::defs()));
    let arena = Arena::default();
    let modules = loader.load(&arena, program).map_err(|errors| {
        JqCompileError(
            errors
                .into_iter()
                .map(|(_, error)| describe_load_error(code, error))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    Compiler::default()
        .with_funs(jaq_std::funs().chain(jaq_json::funs()))
        .compile(modules)
        .map_err(|errors| {
            JqCompileError(
                errors
                    .into_iter()
                    .flat_map(|(_, undefined)| undefined)
                    .map(|(name, kind)| format!("undefined {kind:?} `{name}`"))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
}

fn describe_load_error(code: &str, error: jaq_core::load::Error<&str>) -> String {
    use jaq_core::load::Error;
    let at = |part: &str| {
        let span = jaq_core::load::span(code, part);
        format!("at character {}", span.start + 1)
    };
    match error {
        Error::Io(errors) => errors
            .into_iter()
            .map(|(path, message)| format!("cannot load `{path}`: {message}"))
            .collect::<Vec<_>>()
            .join("; "),
        Error::Lex(errors) => errors
            .into_iter()
            .map(|(expected, found)| format!("expected {} {}", expected.as_str(), at(found)))
            .collect::<Vec<_>>()
            .join("; "),
        Error::Parse(errors) => errors
            .into_iter()
            .map(|(expected, found)| format!("expected {} {}", expected.as_str(), at(found)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_valid_programs_and_explains_invalid_ones() {
        assert!(compile(".items[] | {id, total: (.price * .qty)}").is_ok());
        let error = compile(".a | {").err().map(|e| e.0).unwrap_or_default();
        assert!(error.contains("expected"), "{error}");
        let error = compile("no_such_function(1)")
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(error.contains("no_such_function"), "{error}");
    }
}
