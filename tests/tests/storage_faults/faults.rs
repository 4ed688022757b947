//! The storage faults: a small file system that fills up, or queue files that turn
//! immutable, applied during intake and cleared again.

use switchyard_e2e::faultfs::{FaultFs, FsKind};
use switchyard_e2e::in_ci;

/// Big enough that the queue outgrows no free space of its own before the test fills
/// the rest; small enough to fill in a moment.
const FS_MB: u64 = 64;

/// Mounts `kind`, or says why not: a required variant fails under CI, others skip.
pub fn mount_or_skip(kind: FsKind, required: bool) -> Option<FaultFs> {
    match FaultFs::mount(kind, FS_MB) {
        Ok(fs) => Some(fs),
        Err(reason) => {
            let message = format!("cannot mount a {kind:?} file system here: {reason}");
            assert!(
                !(required && in_ci()),
                "{message}; CI requires this variant"
            );
            eprintln!("SKIPPED: {message}");
            None
        }
    }
}

/// How the storage fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The file system fills up.
    Full,
    /// The queue files become immutable (`chattr +i`): writes fail with EPERM.
    Immutable,
}

impl Fault {
    /// The `reason` labels the runner may give for it.
    pub fn reasons(self) -> &'static [&'static str] {
        match self {
            Self::Full => &["disk_full"],
            Self::Immutable => &["io_error", "read_only"],
        }
    }
}

/// The fault, in force until cleared.
pub enum Applied {
    Full(switchyard_e2e::faultfs::Filler),
    Immutable(Vec<std::path::PathBuf>),
}

pub fn apply(fs: &FaultFs, data_dir: &std::path::Path, fault: Fault) -> Result<Applied, String> {
    match fault {
        Fault::Full => fs
            .fill()
            .map(Applied::Full)
            .map_err(|e| format!("cannot fill: {e}")),
        Fault::Immutable => {
            // Not the `-shm` wal-index: SQLite writes it through a shared memory map,
            // and a store into an immutable (or read-only remounted) file's map is a
            // SIGBUS, which kills any process; it holds nothing durable either.
            let files: Vec<_> = ["queue.db", "queue.db-wal"]
                .iter()
                .map(|name| data_dir.join(name))
                .filter(|path| path.exists())
                .collect();
            let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
            fs.set_immutable(&paths, true)?;
            Ok(Applied::Immutable(files))
        }
    }
}

pub fn clear(fs: &FaultFs, applied: Applied) {
    match applied {
        Applied::Full(filler) => filler.free().expect("free the filler"),
        Applied::Immutable(files) => {
            let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
            fs.set_immutable(&paths, false).expect("chattr -i");
        }
    }
}

/// Whether `chattr +i` refuses writes through a descriptor opened before.
pub fn immutable_refuses_open_files(fs: &FaultFs) -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    let probe = fs.path.join("probe");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&probe)
        .map_err(|e| e.to_string())?;
    fs.set_immutable(&[&probe], true)?;
    let written = file.write_at(b"x", 0);
    fs.set_immutable(&[&probe], false)?;
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
        other => Err(format!("a write through an open descriptor gave {other:?}")),
    }
}
