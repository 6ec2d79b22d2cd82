//! The embedded local-directory store: a complete, durable S3 server in one directory.
//!
//! # Design
//! - **Index**: one redb database, `index.redb`, with tables `buckets` (name → record),
//!   `objects` ((bucket, key) → record), `uploads` ((bucket, key, upload id) → record) and
//!   `parts` ((upload id, part number) → record); records are JSON (see `records.rs`). Keys are
//!   kept byte for byte and never become paths, so `//`, a leading `/`, `#`, `%`, non-ASCII and
//!   keys that are prefixes of each other (`a`, `a/b`) all just work, and a LIST is a range scan.
//! - **Data**: immutable files with fresh UUID names, `blobs/<uuid>` for objects and
//!   `uploads/<upload-id>/<uuid>` for parts. A write streams the body into a new file (hashing
//!   it on the way, in ~512 KiB batches on the blocking pool), verifies Content-MD5 and
//!   checksums, fsyncs the file and its directory, then commits one index transaction that
//!   points at it (checking If-Match / If-None-Match inside it), and only then answers; the
//!   file it replaced is unlinked after the commit. A fresh name needs no temp-and-rename: a
//!   file no record references is garbage by definition. Because a file is referenced only
//!   once committed and never changes afterwards, a reader never sees a torn object and
//!   concurrent writers of one key resolve to the last commit.
//! - **Reads** look the record up and open its file in one blocking step; if a concurrent
//!   commit unlinked the file in between, the lookup is retried. The body is then served from
//!   the open file in 512 KiB reads, so memory per request stays bounded.
//! - **Multipart**: parts are files of their own; a re-upload commits a new file and unlinks the
//!   old. Completing copies the parts into one new blob file (file to file, bounded memory),
//!   then one transaction creates the object and drops the upload, so the object appears
//!   atomically. Abort drops the records, then the directory.
//! - **Recovery**: files are created before any record points at them and unlinked after
//!   none does, so a crash can only leave unreferenced files. [`LocalStore::open`] deletes every
//!   file and upload directory no record references. redb itself is crash-safe.
//!
//! All redb and file IO runs on tokio's blocking pool, never on the reactor.

mod buckets;
mod complete;
mod conditions;
mod copy;
mod delete;
mod error;
mod files;
mod get;
mod index;
mod list;
mod multipart;
mod props;
mod put;
mod records;
mod recovery;
mod service;
mod tagging;
mod time;
mod uploads_list;
mod urlenc;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use self::error::Error;
use self::error::Result;

/// The embedded store. Cheap to clone and share (`Arc` inside); implements [`s3s::S3`].
#[derive(Debug, Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

/// What every operation needs: the index and the data directories.
#[derive(Debug)]
pub(crate) struct Inner {
    db: redb::Database,
    root: PathBuf,
    blobs: PathBuf,
    uploads: PathBuf,
}

impl LocalStore {
    /// Opens the store in `dir`, creating it if needed. Reopening an existing store keeps its
    /// data; files left behind by a crash are deleted. Blocking (call it from
    /// `spawn_blocking` inside a runtime).
    ///
    /// # Errors
    /// The directory cannot be created or read, the index cannot be opened (for instance,
    /// another process has it open), or is of an unknown format.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let root = dir.as_ref().to_path_buf();
        let blobs = root.join("blobs");
        let uploads = root.join("uploads");
        for d in [&root, &blobs, &uploads] {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        let db = index::open(&root.join("index.redb"))?;
        let inner = Inner {
            db,
            root,
            blobs,
            uploads,
        };
        recovery::collect_garbage(&inner)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The store's directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.inner.root
    }

    /// Runs blocking work (redb, files) on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner)).await?
    }
}

impl Inner {
    /// Path of an object blob.
    fn blob_path(&self, name: &str) -> PathBuf {
        self.blobs.join(name)
    }

    /// Directory of an upload's parts.
    fn upload_dir(&self, upload_id: &str) -> PathBuf {
        self.uploads.join(upload_id)
    }

    /// Path of a part file.
    fn part_path(&self, upload_id: &str, file: &str) -> PathBuf {
        self.uploads.join(upload_id).join(file)
    }
}
