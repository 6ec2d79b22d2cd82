//! Crash recovery at open: delete every file and upload directory no record references.
//!
//! Writes create a file before a record points at it and unlink a file after no record does,
//! so whatever a crash leaves behind is unreferenced, and deleting it is always safe.

use std::collections::HashSet;
use std::path::Path;

use redb::ReadableTable as _;

use super::Inner;
use super::error::{Error, Result};
use super::index::{self, OBJECTS, PARTS, UPLOADS};
use super::records::{ObjectRecord, PartRecord};

/// Deletes unreferenced blobs, part files and upload directories. Blocking.
pub(crate) fn collect_garbage(inner: &Inner) -> Result<()> {
    let txn = inner.db.begin_read()?;

    let mut blobs = HashSet::new();
    for item in txn.open_table(OBJECTS)?.iter()? {
        let (_, v) = item?;
        let record: ObjectRecord = index::decode(v.value())?;
        blobs.insert(record.blob);
    }

    let mut uploads = HashSet::new();
    for item in txn.open_table(UPLOADS)?.iter()? {
        let (k, _) = item?;
        uploads.insert(k.value().2.to_owned());
    }

    let mut parts = HashSet::new();
    for item in txn.open_table(PARTS)?.iter()? {
        let (k, v) = item?;
        let record: PartRecord = index::decode(v.value())?;
        parts.insert((k.value().0.to_owned(), record.file));
    }
    drop(txn);

    let mut removed = 0_usize;
    for entry in read_dir(&inner.blobs)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !blobs.contains(&name) {
            remove_any(&entry.path())?;
            removed += 1;
        }
    }
    for entry in read_dir(&inner.uploads)? {
        let upload_id = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !uploads.contains(&upload_id) || !path.is_dir() {
            remove_any(&path)?;
            removed += 1;
            continue;
        }
        for part in read_dir(&path)? {
            let file = part.file_name().to_string_lossy().into_owned();
            if !parts.contains(&(upload_id.clone(), file)) {
                remove_any(&part.path())?;
                removed += 1;
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, dir = %inner.root.display(), "Removed files left by an interrupted write.");
    }
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    entries
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io(format!("listing {}", dir.display()), e))
}

fn remove_any(path: &Path) -> Result<()> {
    let result = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    result.map_err(|e| Error::io(format!("removing {}", path.display()), e))
}
