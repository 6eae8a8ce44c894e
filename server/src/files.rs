//! Private files and directories under the data dir: directories 0700, secret files 0600.
//!
//! The only place that knows about Unix permission bits.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Creates `dir` (and parents) if missing; a directory this call creates is private (0700).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes `contents` to a new file at `path` readable only by its owner (0600).
/// Fails with `AlreadyExists` if the file exists, so two processes never overwrite each other.
pub fn write_new_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_private_dir_and_file() -> io::Result<()> {
        let base =
            std::env::temp_dir().join(format!("deskbeam-files-{}", uuid::Uuid::new_v4().simple()));
        let dir = base.join("nested");
        create_private_dir(&dir)?;
        assert_eq!(fs::metadata(&dir)?.permissions().mode() & 0o777, 0o700);
        let file = dir.join("secret");
        write_new_private_file(&file, b"x")?;
        assert_eq!(fs::metadata(&file)?.permissions().mode() & 0o777, 0o600);
        let again = write_new_private_file(&file, b"y");
        assert_eq!(
            again.map_err(|e| e.kind()),
            Err(io::ErrorKind::AlreadyExists)
        );
        fs::remove_dir_all(&base)
    }
}
