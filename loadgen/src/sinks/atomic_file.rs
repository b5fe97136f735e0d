//! The one way the sinks write a file: atomically, so a reader (a CI job, a dashboard, a
//! person with `tail`) never sees half a report, and a failed write leaves the old file.
//!
//! The temporary file is created exclusively under a random name in the target's
//! folder (`O_EXCL`, through the tempfile crate), so no file planted in that folder
//! under a name loadgen would use, a symlink least of all, is ever opened or written.

use std::io::Write as _;
use std::path::Path;

/// Replaces `path` with `bytes` atomically: a new temporary file in the same directory,
/// synced, then renamed over the target. The temporary file is removed on failure.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "old").unwrap();
        replace_file(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("r.json");
        assert!(replace_file(&path, b"new").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_overwrites_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("r.json");
        // Links under every name a predictable scheme would pick (this process, and
        // the pids around it), all pointing at the victim.
        let me = std::process::id();
        for pid in me.saturating_sub(50)..=me + 50 {
            let planted = dir.path().join(format!(".r.json.{pid}.tmp"));
            std::os::unix::fs::symlink(&victim, planted).unwrap();
        }
        replace_file(&path, b"report").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "report");
        assert!(!path.symlink_metadata().unwrap().is_symlink());
    }
}
