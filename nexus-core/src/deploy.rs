//! Deploying a streamlet: the module (a WASM component) and its descriptor (a `Streamlet`
//! resource) checked together, the module stored by content digest, the descriptor applied
//! with `spec.module` naming that digest. Shared by `nexus streamlet deploy` and the worker's
//! `--streamlets` (the quickstart), so both refuse exactly the same things. No wasmtime here:
//! the component is validated and its imports and exports read with `wasmparser`; workers
//! type-check it against the host when they first load it.

use crate::meta::{
    ApplyOutcome, Batch, Change, Digest, MetaStore, ResourceKind, Result as MetaResult,
};
use crate::resource::{Interface, On, Resource, Spec, parse_str, render};

/// The package version of the streamlet WIT this host implements.
pub const WIT_VERSION: &str = "0.1.0";

/// What a component of each interface must export (all of them, nothing else of ours).
#[must_use]
pub fn required_exports(interface: Interface) -> Vec<String> {
    let names: &[&str] = match interface {
        Interface::Bytes => &["byte-transform"],
        Interface::DataSource => &["data-source"],
        Interface::Events => &["events"],
        Interface::Routing => &["byte-transform", "data-source"],
    };
    names
        .iter()
        .map(|n| format!("nexus:streamlet/{n}@{WIT_VERSION}"))
        .collect()
}

/// The `nexus:streamlet` interfaces the host offers to a component of each interface.
#[must_use]
pub fn offered_imports(interface: Interface) -> &'static [&'static str] {
    match interface {
        Interface::Bytes => &["types", "context", "state", "host-log", "config"],
        Interface::DataSource | Interface::Routing => {
            &["types", "context", "state", "host-log", "config", "sources"]
        }
        Interface::Events => &[
            "types",
            "context",
            "state",
            "host-log",
            "config",
            "inference",
        ],
    }
}

/// The top-level imports and exports of a component.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Surface {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// Validates `bytes` as a WebAssembly component and reads its top-level imports and exports.
///
/// # Errors
/// A sentence: not WebAssembly, a core module instead of a component, or invalid.
pub fn component_surface(bytes: &[u8]) -> Result<Surface, String> {
    use wasmparser::{Encoding, Parser, Payload, Validator, WasmFeatures};
    if !wasmparser::Parser::is_component(bytes) {
        if wasmparser::Parser::is_core_wasm(bytes) {
            return Err(
                "this is a core WebAssembly module, not a component: build with \
                        `cargo build --target wasm32-wasip2` (see docs/writing-a-streamlet.md)"
                    .into(),
            );
        }
        return Err("not a WebAssembly component (no component header)".into());
    }
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(bytes)
        .map_err(|e| format!("invalid component: {e}"))?;
    let mut surface = Surface::default();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| format!("invalid component: {e}"))? {
            Payload::Version { encoding, .. } => {
                depth += 1;
                if depth == 1 && encoding != Encoding::Component {
                    return Err("not a component".into());
                }
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(r) if depth == 1 => {
                for i in r {
                    let i = i.map_err(|e| format!("invalid component: {e}"))?;
                    surface.imports.push(i.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(r) if depth == 1 => {
                for e in r {
                    let e = e.map_err(|e| format!("invalid component: {e}"))?;
                    surface.exports.push(e.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(surface)
}

/// A checked deployment, ready to store.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub name: String,
    pub digest: Digest,
    /// The descriptor with `spec.module` set, canonical YAML.
    pub yaml: String,
}

/// Checks a module against its descriptor (`descriptor_file` names it in messages).
///
/// # Errors
/// Every problem, one per line: descriptor diagnostics (file:line:column), a module that is
/// not a component of the declared world, imports this host does not offer, a descriptor that
/// names another module, or features this host does not run yet.
pub fn prepare(
    module: &[u8],
    descriptor_file: &str,
    descriptor: &str,
) -> std::result::Result<Prepared, String> {
    let parsed = parse_str(descriptor_file, descriptor);
    if parsed.diags.iter().any(|d| d.is_error()) {
        return Err(render(&parsed.diags));
    }
    let mut resources = parsed.resources;
    if resources.len() != 1 || resources[0].kind() != ResourceKind::Streamlet {
        return Err(format!(
            "{descriptor_file}: a descriptor is exactly one `kind: Streamlet` resource"
        ));
    }
    let mut resource: Resource = resources.remove(0);
    let name = resource.name().to_owned();
    let Spec::Streamlet { spec, .. } = &mut resource.spec else {
        return Err(format!("{descriptor_file}: not a Streamlet"));
    };
    let digest = Digest::of(module);
    let mut problems = Vec::new();
    if let Some(m) = &spec.module
        && m != digest.as_str()
    {
        problems.push(format!(
            "the descriptor names module {m}, but the module given is {digest}"
        ));
    }
    match spec.interface {
        Interface::Events => problems.push(
            "interface `events`: event streamlets are defined in the WIT; their host side \
             (record deserializers, inference) is not built yet"
                .to_owned(),
        ),
        Interface::DataSource if spec.on == On::Put => problems.push(
            "interface `data-source` with `on: PUT`: a data-source streamlet decides reads \
             (`on: GET`)"
                .to_owned(),
        ),
        Interface::Routing if spec.on != On::All => problems.push(
            "interface `routing` needs `on: ALL`: it runs on writes and decides reads".to_owned(),
        ),
        _ => {}
    }
    match component_surface(module) {
        Err(e) => problems.push(format!("module: {e}")),
        Ok(surface) => {
            let want = required_exports(spec.interface);
            for w in &want {
                if !surface.exports.contains(w) {
                    problems.push(format!(
                        "module: does not export `{w}` (it exports: {})",
                        if surface.exports.is_empty() {
                            "nothing".to_owned()
                        } else {
                            surface.exports.join(", ")
                        }
                    ));
                }
            }
            for e in &surface.exports {
                if e.starts_with("nexus:streamlet/") && !want.contains(e) {
                    problems.push(format!(
                        "module: also exports `{e}`; a component implements exactly the world of its interface ({})",
                        spec.interface.as_str()
                    ));
                }
            }
            let offered = offered_imports(spec.interface);
            for i in &surface.imports {
                let ours = i
                    .strip_prefix("nexus:streamlet/")
                    .and_then(|rest| rest.strip_suffix(&format!("@{WIT_VERSION}")))
                    .is_some_and(|name| offered.contains(&name));
                if !ours && !i.starts_with("wasi:") {
                    problems.push(format!(
                        "module: imports `{i}`, which this host does not offer to {} streamlets",
                        spec.interface.as_str()
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    spec.module = Some(digest.to_string());
    Ok(Prepared {
        name,
        digest,
        yaml: resource.to_yaml(),
    })
}

/// Stores the module (by digest, idempotent) and then applies the descriptor.
///
/// # Errors
/// The metadata store failed; nothing is applied if the module could not be stored.
pub async fn deploy(
    store: &dyn MetaStore,
    module: &[u8],
    prepared: &Prepared,
) -> MetaResult<ApplyOutcome> {
    store.put_module(&prepared.digest, module).await?;
    store
        .apply(Batch::new(vec![Change::put(
            ResourceKind::Streamlet,
            &prepared.name,
            prepared.yaml.clone(),
        )]))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIPTOR: &str = "apiVersion: nexus/v1\nkind: Streamlet\nmetadata:\n  name: noop\nspec:\n  version: 1.0.0\n  on: ALL\n  type: transformer\n  interface: bytes\n";

    #[test]
    fn core_modules_and_garbage_are_refused_with_a_reason() {
        let core = b"\0asm\x01\0\0\0";
        let err = prepare(core, "noop.yaml", DESCRIPTOR).expect_err("core module");
        assert!(
            err.contains("core WebAssembly module, not a component"),
            "{err}"
        );
        let err = prepare(b"hello", "noop.yaml", DESCRIPTOR).expect_err("garbage");
        assert!(err.contains("not a WebAssembly component"), "{err}");
        // A component header followed by nothing valid.
        let err = prepare(b"\0asm\x0d\0\x01\0\xff", "noop.yaml", DESCRIPTOR).expect_err("broken");
        assert!(err.contains("invalid component"), "{err}");
    }

    #[test]
    fn descriptor_problems_are_all_reported() {
        let bad = DESCRIPTOR.replace("interface: bytes", "interface: events");
        let err = prepare(b"hello", "d.yaml", &bad).expect_err("bad");
        assert!(err.contains("host side"), "{err}");
        assert!(err.contains("not a WebAssembly component"), "{err}");
        let put_source = DESCRIPTOR
            .replace("interface: bytes", "interface: data-source")
            .replace("on: ALL", "on: PUT");
        let err = prepare(b"hello", "d.yaml", &put_source).expect_err("data-source on PUT");
        assert!(err.contains("decides reads"), "{err}");
        let err = prepare(b"x", "d.yaml", "kind: Policy\n").expect_err("not a descriptor");
        assert!(err.contains("d.yaml"), "{err}");
        let other = format!("{DESCRIPTOR}  module: {}\n", Digest::of(b"other"));
        let err = prepare(b"x", "d.yaml", &other).expect_err("other module");
        assert!(err.contains("names module"), "{err}");
    }
}
