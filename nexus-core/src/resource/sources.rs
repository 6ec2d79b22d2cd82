//! Reading resource files: one file, or every `.yaml`/`.yml` file of a directory (sorted, not
//! recursive). Shared by the CLI (`-f`) and the worker (`--policies`).

use std::io;
use std::path::{Path, PathBuf};

/// One file's name (as given) and text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// Reads `path` (a file or a directory of YAML files).
///
/// # Errors
/// The path cannot be read, or a directory holds no YAML file; the message names the path.
pub fn read_sources(path: &Path) -> io::Result<Vec<Source>> {
    let named = |e: io::Error, p: &Path| io::Error::new(e.kind(), format!("{}: {e}", p.display()));
    let meta = std::fs::metadata(path).map_err(|e| named(e, path))?;
    let paths: Vec<PathBuf> = if meta.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| named(e, path))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        v.sort();
        if v.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} holds no .yaml or .yml files", path.display()),
            ));
        }
        v
    } else {
        vec![path.to_owned()]
    };
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| named(e, &p))?;
            Ok(Source {
                name: p.display().to_string(),
                text,
            })
        })
        .collect()
}
