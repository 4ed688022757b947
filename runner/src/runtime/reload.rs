//! Reloading the manifests of a running runner. A reload that cannot be trusted keeps
//! the running configuration and logs why: invalid manifests (every problem is logged),
//! a file that changes while it is read (half-written), a file that was emptied (an
//! editor's truncate-then-write, or a failed copy) or a catalog left with no resource at
//! all. Deleting a file is how its resources are removed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use switchyard_crds::catalog::Catalog;
use switchyard_crds::manifest::{self, FileStamp, Loaded};
use switchyard_crds::problem::Problems;

use super::{Runtime, build};
use crate::secrets::SecretSource;
use crate::vars::VarFiles;

/// How often a reload is tried again while a file keeps changing under it.
const CHANGING_ATTEMPTS: usize = 5;
/// Pause before trying again.
const CHANGING_PAUSE: Duration = Duration::from_millis(300);

/// How many Switchyard resources each manifest file held at the last good load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadedFiles(BTreeMap<PathBuf, usize>);

impl LoadedFiles {
    fn of(loaded: &Loaded) -> Self {
        Self(
            loaded
                .files
                .iter()
                .map(|f| (f.path.clone(), f.resources))
                .collect(),
        )
    }

    fn total(&self) -> usize {
        self.0.values().sum()
    }
}

/// Why a reload kept the running configuration.
#[derive(Debug, thiserror::Error)]
pub enum ReloadRefused {
    #[error("the manifests are invalid")]
    Invalid(Problems),
    #[error("{} changed while it was read (still being written?)", .0.display())]
    Changing(PathBuf),
    #[error(
        "{} is now empty; its {count} resource(s) keep running (delete the file to remove them)",
        .path.display()
    )]
    Emptied { path: PathBuf, count: usize },
    #[error("the manifests hold no resource any more; the {0} running resource(s) are kept")]
    NothingLeft(usize),
}

impl ReloadRefused {
    /// A static name for logs and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid",
            Self::Changing(_) => "changing",
            Self::Emptied { .. } => "emptied",
            Self::NothingLeft(_) => "nothing_left",
        }
    }
}

/// Loads the manifests under `paths` like [`super::load`], and what each file held.
pub fn load_tracked(
    paths: &[PathBuf],
    secrets: &SecretSource,
    vars: &VarFiles,
) -> Result<(Runtime, LoadedFiles), Problems> {
    let loaded = load_manifests(paths, secrets, vars)?;
    let files = LoadedFiles::of(&loaded);
    let runtime = compile(loaded, paths, secrets)?;
    Ok((runtime, files))
}

/// The manifests with their placeholders replaced (secret values registered with the
/// redactor first).
fn load_manifests(
    paths: &[PathBuf],
    secrets: &SecretSource,
    vars: &VarFiles,
) -> Result<Loaded, Problems> {
    let context = vars.context(secrets).map_err(Problems)?;
    let loaded = manifest::load_with(paths, &context);
    crate::vars::register_overridden_secrets(&loaded);
    Ok(loaded)
}

fn compile(loaded: Loaded, paths: &[PathBuf], secrets: &SecretSource) -> Result<Runtime, Problems> {
    if let Some(problem) = loaded.nothing_to_run(paths) {
        return Err(Problems(vec![problem]));
    }
    let mut problems = loaded.problems;
    let catalog = Catalog::build(loaded.resources);
    problems.extend(catalog.problems.iter().cloned());
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    build(&catalog, secrets).map_err(Problems)
}

/// One reload attempt against what the running configuration was loaded from.
pub fn reload(
    paths: &[PathBuf],
    secrets: &SecretSource,
    vars: &VarFiles,
    running: &LoadedFiles,
) -> Result<(Runtime, LoadedFiles), ReloadRefused> {
    let loaded = load_manifests(paths, secrets, vars).map_err(ReloadRefused::Invalid)?;
    for file in &loaded.files {
        if FileStamp::of(&file.path) != file.stamp {
            return Err(ReloadRefused::Changing(file.path.clone()));
        }
        let before = running.0.get(&file.path).copied().unwrap_or(0);
        if file.empty && before > 0 {
            return Err(ReloadRefused::Emptied {
                path: file.path.clone(),
                count: before,
            });
        }
    }
    if loaded.resources.is_empty() && loaded.problems.is_empty() && running.total() > 0 {
        return Err(ReloadRefused::NothingLeft(running.total()));
    }
    let files = LoadedFiles::of(&loaded);
    let runtime = compile(loaded, paths, secrets).map_err(ReloadRefused::Invalid)?;
    Ok((runtime, files))
}

/// Reloads, trying again while a file is being written; logs why a reload is refused.
/// `running` moves on to the new files when the reload succeeds.
pub async fn reload_logged(
    paths: &[PathBuf],
    secrets: &SecretSource,
    vars: &VarFiles,
    running: &mut LoadedFiles,
) -> Option<Runtime> {
    let mut attempt = 1;
    let refused = loop {
        match reload(paths, secrets, vars, running) {
            Ok((runtime, files)) => {
                *running = files;
                return Some(runtime);
            }
            Err(ReloadRefused::Changing(_)) if attempt < CHANGING_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(CHANGING_PAUSE).await;
            }
            Err(refused) => break refused,
        }
    };
    tracing::error!(
        reason = refused.category(),
        "Manifests changed but {refused}; keeping the running configuration"
    );
    if let ReloadRefused::Invalid(problems) = refused {
        for problem in problems.0 {
            tracing::error!(problem = %problem, "Invalid manifest");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONNECTION: &str = "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {name: erp}\nspec: {http: {baseUrl: 'http://127.0.0.1:9'}}\n";
    const ROUTE: &str = "apiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {name: orders}\nspec: {incoming: {webhook: {}}, outgoing: {connection: erp}}\n";

    fn write(dir: &std::path::Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn broken_emptied_or_vanished_manifests_keep_the_running_configuration() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), "connection.yaml", CONNECTION);
        write(dir.path(), "route.yaml", ROUTE);
        let paths = [dir.path().to_owned()];
        let secrets = SecretSource { dir: None };
        let (runtime, running) =
            load_tracked(&paths, &secrets, &VarFiles::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runtime.routes.len(), 1);

        write(dir.path(), "route.yaml", "apiVersion: 'unclosed\n");
        let refused = reload(&paths, &secrets, &VarFiles::default(), &running).err();
        assert!(
            matches!(&refused, Some(ReloadRefused::Invalid(p)) if p.to_string().contains("route.yaml:")),
            "{refused:?}"
        );

        write(dir.path(), "route.yaml", "");
        let refused = reload(&paths, &secrets, &VarFiles::default(), &running).err();
        assert!(
            matches!(&refused, Some(ReloadRefused::Emptied { path, count: 1 }) if path.ends_with("route.yaml")),
            "{refused:?}"
        );

        std::fs::remove_file(dir.path().join("route.yaml")).unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), "connection.yaml", "# nothing\n");
        let refused = reload(&paths, &secrets, &VarFiles::default(), &running).err();
        assert!(
            matches!(refused, Some(ReloadRefused::Emptied { .. })),
            "{refused:?}"
        );
        std::fs::remove_file(dir.path().join("connection.yaml")).unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), "other.yaml", "# nothing\n");
        let refused = reload(&paths, &secrets, &VarFiles::default(), &running).err();
        assert!(
            matches!(refused, Some(ReloadRefused::NothingLeft(2))),
            "{refused:?}"
        );

        // Deleting the route's file removes the route.
        write(dir.path(), "connection.yaml", CONNECTION);
        let (runtime, files) = reload(&paths, &secrets, &VarFiles::default(), &running)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(runtime.routes.is_empty());
        assert_eq!(files.total(), 1);
    }
}
