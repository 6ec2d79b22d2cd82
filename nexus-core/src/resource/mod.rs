//! The resource model: `apiVersion: nexus/v1` documents of kind `Policy`, `Store`, `Streamlet`
//! and `Swarmlet` (`docs/policies.md`), their validation and the compiled policy set.
//!
//! Validation has two tiers:
//! - **structural** ([`parse_str`]): pure, over one file's text; reports every error at once,
//!   each with file, line, column, field path and a suggestion for misspelt fields and values;
//! - **referential** ([`check_references`]): the file's resources against each other and what
//!   the metadata store holds; missing referents that may arrive later are warnings.
//!
//! What is stored is the canonical YAML of each resource ([`Resource::to_yaml`]), read back with
//! the same parser, so there is one way in.

mod catalog;
mod decode;
mod diag;
mod document;
mod emit;
mod glob;
mod matcher;
mod names;
mod policy;
mod precedence;
mod refs;
mod set;
mod sources;
mod yaml;

#[cfg(test)]
mod tests;

pub use self::catalog::{
    Credentials, Interface, Limits, On, ParamSchema, ParamType, S3Store, StoreSpec, StreamletSpec,
    StreamletType, SwarmletSpec,
};
pub use self::diag::{Diagnostic, Severity, render};
pub use self::document::{API_VERSION, Metadata, Parsed, Resource, Spec, parse_str};
pub use self::glob::Glob;
pub use self::names::{Name, Version};
pub use self::policy::{Output, PartitionRange, PolicySpec, Stage, Target};
pub use self::refs::{check as check_references, check_files};
pub use self::set::{CompiledPolicy, PolicySet};
pub use self::sources::{Source, read_sources};
pub use self::yaml::Pos;
