//! The one writer's lock on an index directory (an OS file lock), and who holds it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;

use crate::error::{Error, Result};

pub(super) const LOCK: &str = "write.lock";

/// The one writer's lock on an index directory, held while writing; released when dropped (or
/// when the process dies: it is an OS file lock).
pub struct WriteLock {
    dir: PathBuf,
    _file: File,
}

impl WriteLock {
    /// Takes the lock, creating the directory if needed; another writer gets
    /// [`Error::IndexLocked`] at once instead of waiting.
    pub fn acquire(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let path = dir.join(LOCK);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::write(&path, e))?;
        if file.try_lock_exclusive().is_err() {
            return Err(Error::IndexLocked {
                path: dir.to_path_buf(),
                pid: lock_holder(&mut file),
            });
        }
        let write_pid = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.rewind()?;
            write!(file, "{}", std::process::id())?;
            file.sync_all()
        };
        write_pid(&mut file).map_err(|e| Error::write(&path, e))?;
        Ok(WriteLock {
            dir: dir.to_path_buf(),
            _file: file,
        })
    }

    /// The locked index directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Who holds the lock on `file`: on Linux the process the kernel lists for the file's inode in
/// `/proc/locks`; otherwise (or when it is not listed there) the pid the holder wrote into the
/// file, said to be that.
fn lock_holder(file: &mut File) -> String {
    if let Some(pid) = holder_from_proc_locks(file) {
        return pid;
    }
    let mut recorded = String::new();
    let _ = file.read_to_string(&mut recorded);
    let recorded = recorded.trim();
    if recorded.is_empty() || !recorded.chars().all(|c| c.is_ascii_digit()) {
        "unknown".into()
    } else {
        format!("{recorded} (as recorded in {LOCK})")
    }
}

#[cfg(target_os = "linux")]
fn holder_from_proc_locks(file: &File) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let (inode, dev) = (meta.ino(), meta.dev());
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let locks = fs::read_to_string("/proc/locks").ok()?;
    holder_in(&locks, major as u64, minor as u64, inode)
}

#[cfg(not(target_os = "linux"))]
fn holder_from_proc_locks(_: &File) -> Option<String> {
    None
}

/// The pid holding a lock on `major:minor:inode` in the text of `/proc/locks`
/// (`1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`; device numbers in hex).
fn holder_in(locks: &str, major: u64, minor: u64, inode: u64) -> Option<String> {
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().filter(|f| *f != "->").collect();
        let (pid, id) = (fields.get(4)?, fields.get(5)?);
        let mut parts = id.split(':');
        let maj = u64::from_str_radix(parts.next()?, 16).ok()?;
        let min = u64::from_str_radix(parts.next()?, 16).ok()?;
        let ino: u64 = parts.next()?.parse().ok()?;
        let pid: u64 = pid.parse().ok()?;
        (maj == major && min == minor && ino == inode && pid > 0).then(|| pid.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let _first = WriteLock::acquire(dir.path()).unwrap();
        let second = WriteLock::acquire(dir.path()).err().expect("locked");
        assert!(matches!(second, Error::IndexLocked { .. }), "{second}");
    }

    #[test]
    fn the_lock_holder_is_found_by_device_and_inode() {
        let locks = "1: POSIX  ADVISORY  WRITE 77 fd:01:999 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 5151 08:02:1234 0 EOF\n";
        assert_eq!(holder_in(locks, 8, 1, 1234).as_deref(), Some("4242"));
        assert_eq!(holder_in(locks, 8, 2, 1234).as_deref(), Some("5151"));
        assert_eq!(holder_in(locks, 8, 1, 1), None);
    }

    #[test]
    fn a_held_lock_names_this_process_not_what_the_file_says() {
        let dir = tempfile::tempdir().unwrap();
        let _first = WriteLock::acquire(dir.path()).unwrap();
        fs::write(dir.path().join(LOCK), "1").unwrap();
        let Err(Error::IndexLocked { pid, .. }) = WriteLock::acquire(dir.path()) else {
            panic!("locked");
        };
        if Path::new("/proc/locks").is_file() {
            assert_eq!(pid, std::process::id().to_string());
        } else {
            assert!(pid.contains("as recorded"), "{pid}");
        }
    }
}
