//! The one way any file of paperscope is written: a temporary file beside the target, fsync,
//! rename over the target, fsync of the directory. After a crash or a full disk the target is
//! either the old file or the new one, never half of each.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// Suffix of every temporary file this module creates; stale ones can be recognised by it.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// Writes `bytes` to `path` atomically (see the module doc).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_streaming_atomically(path, |out| out.write_all(bytes))
}

/// Writes what `fill` puts into a buffered writer to `path` atomically, for files too large to
/// build in memory first (an export of 100k papers' vectors).
pub(crate) fn write_streaming_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(File::create(&tmp)?);
        fill(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(path.parent())
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::write(path, e)
    })
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub(crate) fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| Error::IndexCorrupt {
        path: path.to_path_buf(),
        reason: format!("cannot serialise: {e}"),
    })?;
    write_atomically(path, &json)
}

/// Flushes a directory's entries (a rename is durable only once its directory is).
pub(crate) fn sync_dir(dir: Option<&Path>) -> std::io::Result<()> {
    match dir {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// `.<name>.<pid>.tmp` beside `path`: one temp name per process, so two processes writing the
/// same file never share a temporary file, and a hidden name keeps it out of directory listings.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}{TEMP_SUFFIX}", std::process::id()))
}

/// Fault injection for the tests of the write path (a real build, failing where a full disk or
/// a crash could stop it): with `PAPERSCOPE_FAIL_AT=<point>` in the environment, the write fails
/// at that point with an error naming `path`. Points: `staging`, `text`, `vectors`, `topics`,
/// `embedding` (after the first chunk of fresh vectors, or the seeded ones when nothing needs
/// embedding, reached the embedding cache), `rename`
/// (after the new generation is renamed into place, before the manifest names it).
pub(crate) fn failpoint(point: &str, path: &Path) -> Result<()> {
    match std::env::var_os("PAPERSCOPE_FAIL_AT") {
        Some(at) if at == point => Err(Error::write(
            path,
            std::io::Error::other(format!(
                "injected failure at `{point}` (PAPERSCOPE_FAIL_AT)"
            )),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_json_atomically(&path, &vec![1, 2]).unwrap();
        write_json_atomically(&path, &vec![3]).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(serde_json::from_str::<Vec<i32>>(&text).unwrap(), vec![3]);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/a.json");
        let error = write_atomically(&path, b"x").unwrap_err().to_string();
        assert!(
            error.contains("missing/a.json") && error.contains("cannot write"),
            "{error}"
        );
    }
}
