//! The CRDs this operator was built with, applied at start-up (`--apply-crds`, on by
//! default) with server-side apply, so `helm upgrade` — which never touches a chart's
//! `crds/` folder — still brings new fields, printer columns and validation rules.
//! Only the leader applies them, once it leads: during a rolling update an old replica
//! never puts old CRDs back.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

use crate::names::FIELD_MANAGER;

include!(concat!(env!("OUT_DIR"), "/crds.rs"));

/// A CRD could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    #[error("embedded CRD {file} does not parse (a build problem): {source}")]
    Parse {
        file: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error(
        "cannot apply CRD `{name}`: {source} (the operator needs get/create/patch on customresourcedefinitions; or start it with --apply-crds=false and apply charts/switchyard-operator/crds/ yourself)"
    )]
    Apply {
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
}

impl CrdError {
    /// A fixed label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            CrdError::Parse { .. } => "crd_parse",
            CrdError::Apply { .. } => "crd_apply",
        }
    }
}

/// Every embedded CRD, parsed.
pub fn definitions() -> Result<Vec<CustomResourceDefinition>, CrdError> {
    GENERATED
        .iter()
        .map(|(file, text)| {
            serde_yaml::from_str(text).map_err(|source| CrdError::Parse {
                file: (*file).to_owned(),
                source,
            })
        })
        .collect()
}

/// Server-side applies every embedded CRD under the operator's field manager; returns
/// their names.
pub async fn apply(client: &Client) -> Result<Vec<String>, CrdError> {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut applied = Vec::new();
    for crd in definitions()? {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(|source| CrdError::Apply {
                name: name.clone(),
                source: Box::new(source),
            })?;
        tracing::info!(crd = %name, "Applied CRD.");
        applied.push(name);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_crd_is_embedded_and_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds/generated");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".yaml"))
                    .collect()
            })
            .unwrap_or_default();
        on_disk.sort();
        let embedded: Vec<String> = GENERATED.iter().map(|(f, _)| (*f).to_owned()).collect();
        assert_eq!(embedded, on_disk);
        let crds = definitions().unwrap_or_default();
        assert_eq!(crds.len(), on_disk.len());
        for crd in crds {
            assert_eq!(crd.spec.group, switchyard_crds::API_GROUP);
        }
    }
}
