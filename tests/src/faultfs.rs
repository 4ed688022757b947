//! Small file systems that a test can fill up, make immutable and free again: a tmpfs or
//! a loop-mounted ext4 image. Unmounted (and the image deleted) on drop, also when the
//! test panics.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which file system to mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    /// `mount -t tmpfs -o size=…`.
    Tmpfs,
    /// An ext4 image on the real disk, `mount -o loop` (the loop device is released on
    /// unmount).
    Ext4Loop,
}

/// A mounted file system; unmounted on drop.
pub struct FaultFs {
    /// The mount point.
    pub path: PathBuf,
    kind: FsKind,
    mounted: bool,
    /// Holds the mount point and the image; removed after the unmount.
    root: Option<tempfile::TempDir>,
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl FaultFs {
    /// Mounts a file system of `size_mb` MiB. `Err` says why the machine does not allow
    /// it (not root, no tmpfs, no loop devices…): the caller skips.
    pub fn mount(kind: FsKind, size_mb: u64) -> Result<Self, String> {
        let root = tempfile::Builder::new()
            .prefix("switchyard-faultfs-")
            .tempdir_in("/var/tmp")
            .map_err(|e| format!("cannot create a directory in /var/tmp: {e}"))?;
        let path = root.path().join("mnt");
        std::fs::create_dir(&path).map_err(|e| format!("cannot create the mount point: {e}"))?;
        let target = path.display().to_string();
        match kind {
            FsKind::Tmpfs => run(
                "mount",
                &[
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={size_mb}m,mode=0755"),
                    "switchyard-test",
                    &target,
                ],
            )?,
            FsKind::Ext4Loop => {
                let image = root.path().join("fs.img");
                File::create(&image)
                    .and_then(|f| f.set_len(size_mb * 1024 * 1024))
                    .map_err(|e| format!("cannot create the image: {e}"))?;
                let image = image.display().to_string();
                // -m 0: no blocks reserved for root (the runner under test runs as root).
                run("mkfs.ext4", &["-q", "-F", "-m", "0", &image])?;
                run("mount", &["-o", "loop", &image, &target])?;
            }
        }
        Ok(Self {
            path,
            kind,
            mounted: true,
            root: Some(root),
        })
    }

    pub fn kind(&self) -> FsKind {
        self.kind
    }

    /// Fills the file system with a filler file until writing fails with ENOSPC.
    pub fn fill(&self) -> std::io::Result<Filler> {
        let path = self.path.join("filler");
        let file = File::create(&path)?;
        let mut filler = Filler {
            path,
            file: Some(file),
            bytes: 0,
        };
        filler.top_up()?;
        Ok(filler)
    }

    /// Sets or clears the immutable attribute (`chattr ±i`) of `files` under the mount:
    /// writes to them then fail with EPERM, also through descriptors already open.
    pub fn set_immutable(&self, files: &[&Path], immutable: bool) -> Result<(), String> {
        let flag = if immutable { "+i" } else { "-i" };
        for file in files {
            run("chattr", &[flag, &file.display().to_string()])?;
        }
        Ok(())
    }
}

impl Drop for FaultFs {
    fn drop(&mut self) {
        if self.mounted {
            let target = self.path.display().to_string();
            if let Err(error) = run("umount", &[&target]) {
                // Still busy (a process holding a file): detach it now, the kernel
                // finishes when the last file is closed.
                eprintln!("{error}; unmounting lazily");
                let _ = run("umount", &["-l", &target]);
            }
            self.mounted = false;
        }
        drop(self.root.take());
    }
}

/// A file that holds all free space of its file system.
pub struct Filler {
    path: PathBuf,
    file: Option<File>,
    /// Bytes written so far.
    pub bytes: u64,
}

impl Filler {
    /// Writes until ENOSPC, in ever smaller pieces so that no free byte is left; returns
    /// how many bytes it took. Call it again to take space that came free since.
    pub fn top_up(&mut self) -> std::io::Result<u64> {
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        let before = self.bytes;
        let buffer = vec![0x5a_u8; 1 << 20];
        for size in [1 << 20, 64 << 10, 4 << 10, 512, 1] {
            loop {
                match file.write(&buffer[..size]) {
                    Ok(0) => break,
                    Ok(n) => self.bytes += n as u64,
                    Err(e) if e.kind() == ErrorKind::StorageFull => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(self.bytes - before)
    }

    /// Deletes the filler: its space is free again.
    pub fn free(mut self) -> std::io::Result<()> {
        drop(self.file.take());
        std::fs::remove_file(&self.path)
    }
}
