//! The data directory: the SQLite store, its WAL, and in dev mode `master.key`. It is
//! created private to the server's user (mode 0700), so that nothing in it is
//! readable by others even for the moment before each file's own mode is set.

use std::path::Path;

/// Creates `dir` (and missing parents) with mode 0700. A directory that already
/// exists is left as it is — it may be one the operator made on purpose, such as a
/// mount point — but one that others can enter or read is logged as a warning.
pub fn create(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if dir.is_dir() {
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %dir.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "the data directory is open to other users; chmod 700 it"
                );
            }
            return Ok(());
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn a_new_data_directory_is_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a").join("gatehouse-data");
        super::create(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // Again: already there, fine.
        super::create(&dir).unwrap();
    }
}
