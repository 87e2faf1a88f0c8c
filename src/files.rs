//! Reading the files the operator names (the config, the web config, secrets, certificates)
//! without trusting them: only regular files, and never more than a stated size. A path that
//! names `/dev/zero` or a FIFO by mistake must give an error, not a hang or a 4 GB read.

use std::io::Read;
use std::path::Path;

/// The most a config file (or web config) may hold.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// The most a secret file may hold: keys and tokens are short (an STS token is a few KiB).
pub const MAX_SECRET_BYTES: u64 = 64 << 10;
/// The most a certificate or key file may hold.
pub const MAX_PEM_BYTES: u64 = 1 << 20;

/// Why a file could not be read; the message names neither the content nor any part of it.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("is not a regular file")]
    NotAFile,
    #[error("is larger than {} KiB", .0 >> 10)]
    TooLarge(u64),
    #[error("is not UTF-8 text")]
    NotText,
}

/// The bytes of a regular file of at most `max` bytes. The type is checked before the file is
/// opened, because opening a FIFO blocks until someone writes to it.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(FileError::NotAFile);
    }
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge(max));
    }
    Ok(bytes)
}

/// [`read_bounded`], as UTF-8 text.
pub fn read_text(path: &Path, max: u64) -> Result<String, FileError> {
    String::from_utf8(read_bounded(path, max)?).map_err(|_| FileError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_directories_and_large_files() {
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 10),
            Err(FileError::NotAFile)
        ));
        assert!(matches!(
            read_bounded(Path::new("/"), 10),
            Err(FileError::NotAFile)
        ));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "0123456789").unwrap();
        assert_eq!(read_text(&path, 10).unwrap(), "0123456789");
        let error = read_bounded(&path, 9).unwrap_err();
        assert!(matches!(error, FileError::TooLarge(9)));
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_text(&path, 10), Err(FileError::NotText)));
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipping: mkfifo is not available");
            return;
        }
        assert!(matches!(read_bounded(&path, 10), Err(FileError::NotAFile)));
    }
}
