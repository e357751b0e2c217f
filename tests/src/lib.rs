//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

pub use sf2hs_shared::conformance::{record_id, sample_change, sample_mapping};

/// A directory under the system temp dir, unique to one test, removed when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `sf2hs-<label>-<uuid>` under `std::env::temp_dir()`.
    pub fn new(label: &str) -> std::io::Result<Self> {
        let path = std::env::temp_dir().join(format!("sf2hs-{label}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh, unused file path inside the directory (a new database per call).
    pub fn fresh_file(&self, stem: &str) -> PathBuf {
        self.path
            .join(format!("{stem}-{}.db", uuid::Uuid::new_v4()))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is not worth failing a test for.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
