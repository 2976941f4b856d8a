//! Reading the user's text files with a size cap, and writing outputs in a way that respects
//! what the target is.
//!
//! - Shape files, reports and baselines are read with a cap ([`MAX_TEXT_FILE_BYTES`]), so
//!   `--shapes /dev/zero` fails after 64 MiB instead of reading until memory runs out.
//! - [`write_output`] writes a regular file (or a new path) through a temporary file beside it,
//!   renamed into place, so a failed run never leaves a partial file; the new file gets the mode
//!   a plain `create` would (0666 less the umask), or keeps the mode of the file it replaces.
//!   A character device, FIFO or socket is written through instead (`/dev/null` stays a device,
//!   `/dev/full` is a "no space" error), and a symbolic link is followed: its target is written,
//!   the link stays.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{NinError, Result};
use crate::format::format_bytes;

/// Largest text file (shape file, report, baseline) read, in bytes: far above any real one.
pub const MAX_TEXT_FILE_BYTES: u64 = 64 << 20;

/// Reads `path` as UTF-8 text, refusing files over [`MAX_TEXT_FILE_BYTES`]; `what` names the
/// file in errors ("shape file", "report").
pub fn read_text(path: &Path, what: &str) -> Result<String> {
    read_text_capped(path, what, MAX_TEXT_FILE_BYTES)
}

/// [`read_text`] with a cap of `cap` bytes.
pub fn read_text_capped(path: &Path, what: &str, cap: u64) -> Result<String> {
    let file = File::open(path).map_err(|e| NinError::file(path, format!("cannot read {what}: {e}")))?;
    let mut bytes = Vec::new();
    // One byte past the cap tells a file of exactly `cap` bytes from a longer one.
    file.take(cap + 1).read_to_end(&mut bytes).map_err(|e| NinError::file(path, format!("cannot read {what}: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(NinError::file(
            path,
            format!("{what} is larger than {}; is it the right file?", format_bytes(cap)),
        ));
    }
    String::from_utf8(bytes).map_err(|e| NinError::file(path, format!("{what} is not UTF-8 text: {e}")))
}

/// What an output path is, which decides how it is written.
enum Target {
    /// A regular file or a path that does not exist yet: temporary file + rename, at this path
    /// (a symbolic link's target when the output was a link).
    Replace(PathBuf),
    /// A character device, FIFO or socket: opened and written in place.
    WriteThrough,
}

fn target_of(path: &Path) -> Result<Target> {
    use std::os::unix::fs::FileTypeExt;
    // `metadata` follows symbolic links: a link to a device is written through like the device.
    match std::fs::metadata(path) {
        Ok(meta) => {
            let kind = meta.file_type();
            if kind.is_char_device() || kind.is_fifo() || kind.is_socket() || kind.is_block_device() {
                Ok(Target::WriteThrough)
            } else if kind.is_dir() {
                Err(NinError::file(path, "is a directory"))
            } else {
                Ok(Target::Replace(resolve_links(path)?))
            }
        }
        // A dangling link names the file to create.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::Replace(resolve_links(path)?)),
        Err(e) => Err(NinError::file(path, format!("cannot write: {e}"))),
    }
}

/// `path` with every symbolic link it names followed (at most 40, as the kernel allows), so
/// the rename replaces the link's target, not the link.
fn resolve_links(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link =
                    std::fs::read_link(&current).map_err(|e| NinError::file(path, format!("cannot read link: {e}")))?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(NinError::file(path, "too many levels of symbolic links"))
}

/// The mode a new file gets from `open(…, O_CREAT, 0666)`: 0666 less the process's umask.
fn default_file_mode() -> u32 {
    // /proc/self/status has the umask without changing it (Linux 4.7 and later).
    let from_proc = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        status.lines().find_map(|l| l.strip_prefix("Umask:")).and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
    });
    let umask = from_proc.unwrap_or_else(|| {
        // SAFETY: umask only swaps the process's file-creation mask; it is put back at once.
        unsafe {
            let old = libc::umask(0o022);
            libc::umask(old);
            old as u32
        }
    });
    0o666 & !umask
}

/// Writes an output file: `write` gets a buffered writer and produces the whole content. See
/// the module documentation for how each kind of target is treated. Errors (a full device, a
/// read-only folder) are [`NinError::File`] naming `path`.
pub fn write_output(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let err = |e: std::io::Error| NinError::file(path, format!("cannot write: {e}"));
    match target_of(path)? {
        Target::WriteThrough => {
            let file = OpenOptions::new().write(true).open(path).map_err(err)?;
            let mut out = BufWriter::new(file);
            write(&mut out).map_err(err)?;
            out.into_inner().map_err(|e| err(e.into_error()))?.sync_all().or_else(ignore_unsupported_sync).map_err(err)
        }
        Target::Replace(target) => {
            let dir = match target.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let mode = match std::fs::metadata(&target) {
                Ok(existing) => existing.permissions().mode() & 0o7777,
                Err(_) => default_file_mode(),
            };
            if !dir.is_dir() {
                return Err(NinError::file(path, format!("cannot write: its folder {} does not exist", dir.display())));
            }
            let tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
            {
                let mut out = BufWriter::new(tmp.as_file());
                write(&mut out).map_err(err)?;
                out.flush().map_err(err)?;
            }
            tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).map_err(err)?;
            tmp.persist(&target).map_err(|e| err(e.error))?;
            Ok(())
        }
    }
}

/// Devices such as /dev/null do not support fsync (EINVAL): there is nothing to make durable.
fn ignore_unsupported_sync(e: std::io::Error) -> std::io::Result<()> {
    if e.raw_os_error() == Some(libc::EINVAL) { Ok(()) } else { Err(e) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn text_over_the_cap_is_refused_and_at_the_cap_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shapes.txt");
        std::fs::write(&path, "x".repeat(100)).unwrap();
        assert_eq!(read_text_capped(&path, "shape file", 100).unwrap().len(), 100);
        let err = read_text_capped(&path, "shape file", 99).unwrap_err().to_string();
        assert!(err.contains("shape file is larger than 99 B"), "{err}");
        // An endless source stops at the cap.
        let err = read_text_capped(Path::new("/dev/zero"), "report", 1 << 20).unwrap_err().to_string();
        assert!(err.contains("larger than 1.00 MiB"), "{err}");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(read_text(&path, "shape file").unwrap_err().to_string().contains("not UTF-8"));
    }

    #[test]
    fn a_symbolic_link_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.txt");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink("real.txt", &link).unwrap();
        write_output(&link, |w| w.write_all(b"new")).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        // The replaced file keeps its mode.
        assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640);
        // A dangling link names the file to create.
        let dangling = dir.path().join("dangling.txt");
        std::os::unix::fs::symlink("created.txt", &dangling).unwrap();
        write_output(&dangling, |w| w.write_all(b"made")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("created.txt")).unwrap(), "made");
    }

    #[test]
    fn a_new_file_gets_the_umask_mode_and_a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.txt");
        write_output(&path, |w| w.write_all(b"data")).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, default_file_mode());
        let failed = dir.path().join("failed.txt");
        let err = write_output(&failed, |_| Err(std::io::Error::other("boom"))).unwrap_err().to_string();
        assert!(err.contains("boom"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only new.txt is left");
        assert!(write_output(dir.path(), |w| w.write_all(b"x")).unwrap_err().to_string().contains("directory"));
        let nowhere = dir.path().join("missing").join("y.npy");
        let err = write_output(&nowhere, |w| w.write_all(b"x")).unwrap_err().to_string();
        assert!(err.ends_with("missing does not exist"), "{err}");
    }
}
