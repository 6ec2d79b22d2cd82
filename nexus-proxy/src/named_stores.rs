//! Named stores: the `Store` resources a policy names in `spec.output` (its output store and
//! the alternatives routing streamlets may pick), opened on first use and kept by the worker.
//! Data-source streamlets serve reads from them (`serve-source`, `sources.open`).
//!
//! A store resource is `embedded: {}` (the worker's own embedded store, in the bucket of the
//! request) or `s3: {endpoint, bucket, region, pathStyle, credentials}` with credentials from
//! environment variables of the worker. Secrets by name are not read by this worker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use nexus_core::meta::ResourceKind;
use nexus_core::resource::{CompiledPolicy, Credentials, PolicySet, Spec, StoreSpec};
use nexus_store::s3::{S3Backend, S3BackendConfig};
use s3s::S3;

/// A store to read from, and the bucket in it (`None`: the request's bucket).
#[derive(Clone)]
pub struct Named {
    /// The `Store` resource's name.
    pub name: String,
    pub store: Arc<dyn S3>,
    pub bucket: Option<String>,
}

/// The worker's named stores.
pub struct NamedStores {
    own: Arc<dyn S3>,
    own_is_embedded: bool,
    opened: Mutex<HashMap<String, (StoreSpec, Named)>>,
}

impl NamedStores {
    #[must_use]
    pub fn new(own: Arc<dyn S3>, own_is_embedded: bool) -> Self {
        Self {
            own,
            own_is_embedded,
            opened: Mutex::default(),
        }
    }

    /// The store `name`, which `policy` must name in its output.
    ///
    /// # Errors
    /// A sentence: not named by the policy, no such `Store` resource, an embedded store on a
    /// worker without one, missing credentials, or a client that cannot be built.
    pub fn resolve(
        &self,
        set: &PolicySet,
        policy: &CompiledPolicy,
        name: &str,
    ) -> Result<Named, String> {
        let out = &policy.spec.output;
        if !out
            .store
            .iter()
            .chain(&out.alternatives)
            .any(|n| n.as_str() == name)
        {
            return Err(format!(
                "store `{name}` is not named in spec.output of policy {}",
                policy.name
            ));
        }
        self.open(set, name)
    }

    /// The `Store` resource `name` of `set`, whichever policy named it (a recorded output
    /// store, a locator's store).
    ///
    /// # Errors
    /// As [`Self::resolve`], but for the policy check.
    pub fn open(&self, set: &PolicySet, name: &str) -> Result<Named, String> {
        let spec = set
            .of_kind(ResourceKind::Store)
            .find_map(|r| match &r.spec {
                Spec::Store { spec, .. } if r.name() == name => Some(spec.clone()),
                _ => None,
            })
            .ok_or_else(|| format!("no Store resource `{name}` is applied"))?;
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((s, named)) = opened.get(name)
            && *s == spec
        {
            return Ok(named.clone());
        }
        let named = match &spec {
            StoreSpec::Embedded {} if self.own_is_embedded => Named {
                name: name.to_owned(),
                store: Arc::clone(&self.own),
                bucket: None,
            },
            StoreSpec::Embedded {} => {
                return Err(format!(
                    "store `{name}` is the embedded store, and this worker stores in an S3 backend"
                ));
            }
            StoreSpec::S3(s3) => {
                let (access_key, secret_key) = match &s3.credentials {
                    Credentials::Env {
                        access_key_id,
                        secret_access_key,
                    } => (env(name, access_key_id)?, env(name, secret_access_key)?),
                    Credentials::Secret(secret) => {
                        return Err(format!(
                            "store `{name}`: credentials from secret `{secret}` are not read by this worker (use `env`)"
                        ));
                    }
                };
                let backend = S3Backend::new(S3BackendConfig {
                    endpoint: Some(s3.endpoint.clone()),
                    region: s3.region.clone(),
                    access_key,
                    secret_key,
                    path_style: s3.path_style,
                    ..S3BackendConfig::default()
                })
                .map_err(|e| format!("store `{name}`: {e}"))?;
                Named {
                    name: name.to_owned(),
                    store: Arc::new(backend),
                    bucket: Some(s3.bucket.clone()),
                }
            }
        };
        opened.insert(name.to_owned(), (spec, named.clone()));
        Ok(named)
    }
}

fn env(store: &str, var: &str) -> Result<String, String> {
    std::env::var(var).map_err(|_| {
        format!("store `{store}`: the environment variable {var} (its credentials) is not set")
    })
}
