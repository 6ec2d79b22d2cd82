//! The embedded store's file: JSON, replaced atomically, locked while written.
//!
//! Format version 1 (`docs/metadata.md`):
//! `{"format": 1, "revision": N, "records": [Record…], "tombstones": [{"kind","name","version"}…]}`.
//! Module blobs live beside it, one file per digest, in `<PATH>.modules/<hex>`.
//!
//! Writers take an exclusive lock on `<PATH>.lock` for the whole read-modify-write, write
//! `<PATH>.tmp.<pid>`, fsync it, rename it over `<PATH>` and fsync the directory. Readers need no
//! lock (a rename is atomic) and notice another process's write by the file's identity
//! ([`Stamp`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::digest::Digest;
use super::error::{MetaError, Result};
use super::record::{Record, ResourceKind};

/// The file format this build writes and the newest it reads.
pub const FORMAT: u64 = 1;

/// A file modified less than this long ago may change again without its identity changing
/// (coarse mtime, inode reuse): such a file is re-read on every access until it settles.
const SETTLE: Duration = Duration::from_secs(2);

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Contents {
    pub revision: u64,
    pub records: Vec<Record>,
    #[serde(default)]
    pub tombstones: Vec<Tombstone>,
}

/// The last version of a deleted record, so that a re-created record continues from it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Tombstone {
    pub kind: ResourceKind,
    pub name: String,
    pub version: u64,
}

/// The identity of one written version of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    len: u64,
    modified: SystemTime,
    inode: u64,
}

#[derive(serde::Serialize)]
struct Write<'a> {
    format: u64,
    #[serde(flatten)]
    contents: &'a Contents,
}

#[derive(serde::Deserialize)]
struct Header {
    format: Option<u64>,
}

#[derive(serde::Deserialize)]
struct Read {
    #[allow(dead_code, reason = "checked through Header")]
    format: u64,
    #[serde(flatten)]
    contents: Contents,
}

/// The embedded store's paths.
#[derive(Debug, Clone)]
pub(crate) struct FilePaths {
    pub data: PathBuf,
    lock: PathBuf,
    modules: PathBuf,
}

// === impl FilePaths ===

impl FilePaths {
    pub fn new(data: PathBuf) -> Self {
        let with = |suffix: &str| {
            let mut s = data.clone().into_os_string();
            s.push(suffix);
            PathBuf::from(s)
        };
        Self {
            lock: with(".lock"),
            modules: with(".modules"),
            data,
        }
    }

    fn err(&self, path: &Path, op: &'static str) -> impl FnOnce(io::Error) -> MetaError {
        let path = path.to_owned();
        move |source| MetaError::File { path, op, source }
    }

    /// Creates the parent directory if needed.
    pub fn prepare(&self) -> Result<()> {
        match self.data.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => {
                fs::create_dir_all(dir).map_err(self.err(dir, "create directory"))
            }
            _ => Ok(()),
        }
    }

    /// Takes the writers' lock; released when the file is dropped.
    pub fn lock(&self) -> Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(self.err(&self.lock, "open lock file"))?;
        file.lock().map_err(self.err(&self.lock, "lock"))?;
        Ok(file)
    }

    /// The current identity of the data file; `None` if it is missing or too fresh to trust.
    pub fn stamp(&self) -> Result<Option<Stamp>> {
        match fs::metadata(&self.data) {
            Ok(meta) => Ok(Stamp::settled(&meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err(&self.data, "stat")(e)),
        }
    }

    /// Reads the data file; an absent file is an empty store.
    pub fn read(&self) -> Result<(Contents, Option<Stamp>)> {
        let mut file = match File::open(&self.data) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((Contents::default(), None));
            }
            Err(e) => return Err(self.err(&self.data, "open")(e)),
        };
        let meta = file.metadata().map_err(self.err(&self.data, "stat"))?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        io::Read::read_to_end(&mut file, &mut bytes).map_err(self.err(&self.data, "read"))?;
        let contents = self.parse(&bytes)?;
        Ok((contents, Stamp::settled(&meta)))
    }

    fn parse(&self, bytes: &[u8]) -> Result<Contents> {
        let corrupt = |reason: String| MetaError::Corrupt {
            path: self.data.clone(),
            reason,
        };
        let header: Header = serde_json::from_slice(bytes)
            .map_err(|e| corrupt(format!("not a Nexus metadata file: {e}")))?;
        match header.format {
            None => return Err(corrupt("no `format` field".into())),
            Some(found) if found > FORMAT => {
                return Err(MetaError::FormatTooNew {
                    path: self.data.clone(),
                    found,
                    supported: FORMAT,
                });
            }
            Some(0) => return Err(corrupt("format 0 does not exist".into())),
            Some(_) => {}
        }
        let read: Read = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        let contents = read.contents;
        for record in &contents.records {
            if Digest::of(record.body.as_bytes()) != record.digest {
                return Err(corrupt(format!(
                    "the body of {} `{}` does not match its digest (edited by hand?)",
                    record.kind, record.name
                )));
            }
            if record.revision > contents.revision || record.version == 0 {
                return Err(corrupt(format!(
                    "{} `{}` has version {} at revision {} but the file is at revision {}",
                    record.kind, record.name, record.version, record.revision, contents.revision
                )));
            }
        }
        Ok(contents)
    }

    /// Writes the data file atomically and durably.
    pub fn write(&self, contents: &Contents) -> Result<Option<Stamp>> {
        let bytes = serde_json::to_vec_pretty(&Write {
            format: FORMAT,
            contents,
        })
        .map_err(|e| MetaError::Internal(format!("serialise metadata: {e}")))?;
        self.replace(&self.data, &bytes)?;
        self.stamp()
    }

    /// Writes `bytes` to `path` by temp file, fsync, rename and directory fsync; mode 0600.
    fn replace(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let mut tmp = path.to_owned().into_os_string();
        tmp.push(format!(".tmp.{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let mut options = OpenOptions::new();
        options.create(true).write(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let result = (|| {
            let mut file = options.open(&tmp).map_err(self.err(&tmp, "create"))?;
            file.write_all(bytes).map_err(self.err(&tmp, "write"))?;
            file.sync_all().map_err(self.err(&tmp, "fsync"))?;
            fs::rename(&tmp, path).map_err(self.err(path, "rename into place"))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename durable; not every platform can open a directory.
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }

    fn module_path(&self, digest: &Digest) -> PathBuf {
        self.modules.join(digest.hex())
    }

    pub fn module_exists(&self, digest: &Digest) -> Result<bool> {
        let path = self.module_path(digest);
        path.try_exists().map_err(self.err(&path, "stat"))
    }

    pub fn read_module(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        let path = self.module_path(digest);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err(&path, "read")(e)),
        }
    }

    pub fn write_module(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        fs::create_dir_all(&self.modules).map_err(self.err(&self.modules, "create directory"))?;
        self.replace(&self.module_path(digest), bytes)
    }
}

// === impl Stamp ===

impl Stamp {
    fn settled(meta: &fs::Metadata) -> Option<Self> {
        let modified = meta.modified().ok()?;
        let age = SystemTime::now().duration_since(modified).ok()?;
        if age < SETTLE {
            return None;
        }
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Self {
            len: meta.len(),
            modified,
            inode,
        })
    }
}
