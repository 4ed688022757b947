//! Expanding `transformer:` calls into the steps they name. A call names an existing
//! Transformer, never one already being expanded (a cycle, reported with its path), and
//! a callee's problems are printed where it is called. Expansion is bounded: Transformers
//! that call each other several times can multiply steps, so past
//! [`MAX_EXPANDED_STEPS`] expansion stops with a problem.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::{Key, LabeledStep, references};
use crate::problem::{Origin, Problem, ResourceId};
use crate::v1alpha1::{Step, TransformerSpec};
use crate::validate;

/// Most steps (calls included) one pipeline may expand to.
pub const MAX_EXPANDED_STEPS: usize = 10_000;

pub(super) type TransformerEntry = (ResourceId, Origin, TransformerSpec);

/// Where a list of steps is written.
pub(super) struct Site<'a> {
    pub namespace: &'a str,
    pub field: &'a str,
    pub origin: &'a Origin,
    pub id: &'a ResourceId,
}

/// Resolves the Transformers of a catalog.
pub(super) struct StepResolver<'a> {
    pub transformers: &'a BTreeMap<Key, TransformerEntry>,
    pub known: references::Known<'a>,
    /// Problems of each Transformer's own steps (calls not followed), found once: a
    /// Transformer called many times is validated once.
    pub checked: RefCell<BTreeMap<Key, Vec<Problem>>>,
}

/// State of one pipeline's expansion.
struct Expansion<'p> {
    /// Names of the Transformers being expanded, outermost first.
    stack: Vec<String>,
    /// Steps that may still be visited.
    left: usize,
    problems: &'p mut Vec<Problem>,
}

impl StepResolver<'_> {
    /// The steps of `steps` with every call expanded; problems go to `problems`.
    /// `within` names the Transformer whose own steps these are, if any.
    pub(super) fn expand(
        &self,
        site: &Site<'_>,
        steps: &[Step],
        within: Option<&str>,
        problems: &mut Vec<Problem>,
    ) -> Vec<LabeledStep> {
        let mut expansion = Expansion {
            stack: within.map(str::to_owned).into_iter().collect(),
            left: MAX_EXPANDED_STEPS,
            problems,
        };
        self.walk(site, steps, true, &mut expansion)
    }

    /// Problems of the steps written at `site` themselves (calls not followed).
    fn check(&self, site: &Site<'_>, steps: &[Step]) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (index, step) in steps.iter().enumerate() {
            if matches!(step, Step::Transformer(_)) {
                continue;
            }
            let field = format!("{}[{index}]", site.field);
            let before = problems.len();
            validate::step(step, &field, site.origin, site.id, &mut problems);
            if problems.len() == before {
                for (field, message) in self.known.check(site.namespace, step, &field) {
                    problems.push(Problem::new(site.origin, Some(site.id), field, message));
                }
            }
        }
        problems
    }

    /// Expands `steps`; `check` validates them too (a callee's are checked once, in
    /// [`Self::call`]).
    fn walk(
        &self,
        site: &Site<'_>,
        steps: &[Step],
        check: bool,
        expansion: &mut Expansion<'_>,
    ) -> Vec<LabeledStep> {
        if check {
            expansion.problems.extend(self.check(site, steps));
        }
        let mut out = Vec::new();
        for (index, step) in steps.iter().enumerate() {
            let step_field = format!("{}[{index}]", site.field);
            let problem = |field: String, message: String| {
                Problem::new(site.origin, Some(site.id), field, message)
            };
            if expansion.left == 0 {
                expansion.problems.push(problem(
                    step_field,
                    format!(
                        "the pipeline expands to more than {MAX_EXPANDED_STEPS} steps \
                         (Transformers calling each other repeatedly); expansion stopped here"
                    ),
                ));
                return out;
            }
            expansion.left -= 1;
            if let Step::Transformer(name) = step {
                out.extend(self.call(site, name, &format!("{step_field}.transformer"), expansion));
                continue;
            }
            {
                let label = if site.id.kind == "Transformer" {
                    format!("{} step {}", site.id, index + 1)
                } else {
                    format!(
                        "{} step {}",
                        site.field.trim_start_matches("spec.transformers."),
                        index + 1
                    )
                };
                out.push(LabeledStep {
                    label,
                    step: step.clone(),
                });
            }
        }
        out
    }

    /// The steps of Transformer `name`, called at `field`.
    fn call(
        &self,
        site: &Site<'_>,
        name: &str,
        field: &str,
        expansion: &mut Expansion<'_>,
    ) -> Vec<LabeledStep> {
        let problem = |message: String| Problem::new(site.origin, Some(site.id), field, message);
        let key = (site.namespace.to_owned(), name.to_owned());
        let Some((callee_id, callee_origin, callee)) = self.transformers.get(&key) else {
            expansion.problems.push(problem(format!(
                "Transformer `{name}` does not exist in namespace `{}`",
                site.namespace
            )));
            return Vec::new();
        };
        if expansion.stack.iter().any(|n| n == name) {
            let path: Vec<&str> = expansion
                .stack
                .iter()
                .map(String::as_str)
                .chain([name])
                .collect();
            expansion.problems.push(problem(format!(
                "Transformer `{name}` calls itself: {}",
                path.join(" → ")
            )));
            return Vec::new();
        }
        expansion.stack.push(name.to_owned());
        let callee_site = Site {
            namespace: site.namespace,
            field: "spec.steps",
            origin: callee_origin,
            id: callee_id,
        };
        let mut nested = self
            .checked
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| self.check(&callee_site, &callee.steps))
            .clone();
        let steps = {
            let mut inner = Expansion {
                stack: std::mem::take(&mut expansion.stack),
                left: expansion.left,
                problems: &mut nested,
            };
            let steps = self.walk(&callee_site, &callee.steps, false, &mut inner);
            expansion.stack = inner.stack;
            expansion.left = inner.left;
            steps
        };
        expansion.stack.pop();
        if !nested.is_empty() {
            expansion.problems.push(problem(format!(
                "Transformer `{name}` is invalid: {}",
                super::render_nested(&nested)
            )));
        }
        steps
    }
}
