//! The Redis metadata store.

use std::future::Future;
use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::broadcast;

pub use super::redis_options::RedisOptions;

use super::digest::Digest;
use super::embedded::now_ms;
use super::error::{MetaError, Result};
use super::feed::{Event, FEED_CAPACITY, Feed};
use super::record::{
    ApplyOutcome, Batch, Change, ChangeResult, Outcome, Record, ResourceKind, Snapshot,
};
use super::redis_client::{auth_error, client, connect_error};
use super::redis_feed::{self, FeedTask};
use super::redis_keys::{Keys, MigrationPlan, SCHEMA_VERSION, SchemaState, plan_migration};
use super::store::MetaStore;

static APPLY: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/apply.lua")));
static READ: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("lua/read.lua")));

/// The Redis metadata store: a reconnecting connection for commands, and, from the first
/// [`MetaStore::watch`] on, a dedicated pub/sub connection for the change feed (a background
/// task, stopped when the store is dropped). A CLI that never watches opens one connection.
#[derive(Debug)]
pub struct RedisMeta {
    conn: ConnectionManager,
    keys: Keys,
    /// The URL without password, and the prefix: for messages.
    target: String,
    options: RedisOptions,
    events: broadcast::Sender<Event>,
    client: redis::Client,
    runtime: tokio::runtime::Handle,
    /// The change-feed task, started by the first `watch`, stopped with the store.
    feed_task: OnceLock<FeedTask>,
}

// === impl RedisMeta ===

impl RedisMeta {
    /// Connects to `url` (`redis://` or `rediss://`; query parameters override `options`),
    /// checks the schema version and migrates an empty namespace, and starts the change feed.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self> {
        let (url, options) = options.with_url(url)?;
        let target = format!(
            "{} (prefix {})",
            super::open::redact_url(&url),
            options.prefix
        );
        let client = client(&url, &options, &target)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(options.reconnect_max_delay)
            .set_number_of_retries(2);
        let limit = options.connect_timeout * 3;
        let conn = match tokio::time::timeout(
            limit,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(connect_error(&target, e)),
            Err(_) => {
                return Err(MetaError::Timeout {
                    target,
                    op: "connect",
                    after: limit,
                });
            }
        };
        let keys = Keys::new(options.prefix.clone());
        let (events, _) = broadcast::channel(FEED_CAPACITY);
        let store = Self {
            conn,
            keys,
            target,
            options,
            events,
            client,
            runtime: tokio::runtime::Handle::current(),
            feed_task: OnceLock::new(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The command connection and the key layout, for the mesh's membership and state
    /// scripts (`crate::cluster`), which share the namespace.
    #[must_use]
    pub fn connection(&self) -> (ConnectionManager, Keys) {
        (self.conn.clone(), self.keys.clone())
    }

    /// Brings the namespace to [`SCHEMA_VERSION`], or refuses it.
    async fn migrate(&self) -> Result<()> {
        // A concurrent migrator can only move the version forward; a few rounds settle it.
        for _ in 0..4 {
            let (schema, revision_exists): (Option<String>, bool) = self
                .call("read schema", |mut c, k| async move {
                    redis::pipe()
                        .get(k.schema())
                        .exists(k.revision())
                        .query_async(&mut c)
                        .await
                })
                .await?;
            let state = SchemaState::from_values(schema.as_deref(), revision_exists);
            match plan_migration(&state) {
                MigrationPlan::UpToDate => return Ok(()),
                MigrationPlan::TooNew(found) => {
                    return Err(MetaError::SchemaTooNew {
                        target: self.target.clone(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                MigrationPlan::Unknown(found) => {
                    return Err(MetaError::SchemaUnknown {
                        target: self.target.clone(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                MigrationPlan::Migrate(steps) => {
                    for step in steps {
                        tracing::info!(
                            target_store = %self.target,
                            from = step.from,
                            to = step.to,
                            "Migrating the metadata schema: {}.",
                            step.what
                        );
                        let script = redis::Script::new(step.script);
                        let prefix = self.keys.prefix().to_owned();
                        let _: String = self
                            .call("migrate schema", |mut c, _| async move {
                                script
                                    .prepare_invoke()
                                    .arg(prefix)
                                    .arg(step.from)
                                    .arg(step.to)
                                    .invoke_async(&mut c)
                                    .await
                            })
                            .await?;
                    }
                }
            }
        }
        Err(MetaError::Internal(format!(
            "{}: the schema version did not settle",
            self.target
        )))
    }

    /// Runs one Redis operation with the overall timeout and our error mapping.
    async fn call<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T>
    where
        F: FnOnce(ConnectionManager, Keys) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        // The redis crate bounds each attempt; this bounds the reconnects in between.
        let limit = self.options.connect_timeout + self.options.response_timeout;
        match tokio::time::timeout(limit, f(self.conn.clone(), self.keys.clone())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.error(op, e)),
            Err(_) => Err(MetaError::Timeout {
                target: self.target.clone(),
                op,
                after: limit,
            }),
        }
    }

    fn error(&self, op: &'static str, e: redis::RedisError) -> MetaError {
        if let Some(auth) = auth_error(&self.target, &e) {
            return auth;
        }
        if e.code() == Some("NEXUS_SCHEMA") {
            return self.schema_error(e.detail().unwrap_or_default());
        }
        MetaError::Redis {
            target: self.target.clone(),
            op,
            source: e,
        }
    }

    /// The error for a schema marker other than ours.
    fn schema_error(&self, found: &str) -> MetaError {
        match found.parse::<u32>() {
            Ok(found) if found > SCHEMA_VERSION => MetaError::SchemaTooNew {
                target: self.target.clone(),
                found,
                supported: SCHEMA_VERSION,
            },
            _ => MetaError::SchemaUnknown {
                target: self.target.clone(),
                found: found.to_owned(),
                supported: SCHEMA_VERSION,
            },
        }
    }

    fn protocol(&self, op: &'static str, detail: impl Into<String>) -> MetaError {
        MetaError::Protocol {
            target: self.target.clone(),
            op,
            detail: detail.into(),
        }
    }

    /// Runs `read.lua` for `kinds`: the revision and the records, checked against the schema.
    async fn read(&self, op: &'static str, kinds: &[ResourceKind]) -> Result<Snapshot> {
        let kinds: Vec<&'static str> = kinds.iter().map(|k| k.as_str()).collect();
        let reply: Vec<String> = self
            .call(op, |mut c, k| async move {
                READ.prepare_invoke()
                    .arg(k.prefix())
                    .arg(kinds)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        let [schema, revision, rest @ ..] = reply.as_slice() else {
            return Err(self.protocol(op, "short reply"));
        };
        if !schema.is_empty() && schema != &SCHEMA_VERSION.to_string() {
            return Err(self.schema_error(schema));
        }
        let revision = self.number(op, revision)?;
        let mut snapshot = Snapshot {
            revision,
            records: Vec::with_capacity(rest.len() / 7),
        };
        for f in rest.chunks(7) {
            let [kind, name, version, rev, digest, updated_ms, body] = f else {
                return Err(self.protocol(op, "record with missing fields"));
            };
            snapshot.records.push(Record {
                kind: kind
                    .parse()
                    .map_err(|e: super::record::UnknownKind| self.protocol(op, e.to_string()))?,
                name: name.clone(),
                version: self.number(op, version)?,
                revision: self.number(op, rev)?,
                digest: digest.parse()?,
                updated_ms: self.number(op, updated_ms)?,
                body: body.clone(),
            });
        }
        snapshot.sort();
        Ok(snapshot)
    }

    fn number(&self, op: &'static str, s: &str) -> Result<u64> {
        s.parse()
            .map_err(|_| self.protocol(op, format!("`{s}` is not a number")))
    }
}

#[async_trait]
impl MetaStore for RedisMeta {
    fn describe(&self) -> String {
        self.target.clone()
    }

    async fn get(&self, kind: ResourceKind, name: &str) -> Result<Option<Record>> {
        let key = self.keys.resource(kind, name);
        let fields: Vec<Option<String>> = self
            .call("get", |mut c, _| async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg(&["version", "revision", "digest", "updated_ms", "body"])
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let [
            Some(version),
            Some(revision),
            Some(digest),
            updated_ms,
            Some(body),
        ] = fields.as_slice()
        else {
            return Ok(None);
        };
        Ok(Some(Record {
            kind,
            name: name.to_owned(),
            version: self.number("get", version)?,
            revision: self.number("get", revision)?,
            digest: digest.parse()?,
            updated_ms: updated_ms
                .as_deref()
                .map_or(Ok(0), |s| self.number("get", s))?,
            body: body.clone(),
        }))
    }

    async fn list(&self, kind: ResourceKind) -> Result<Vec<Record>> {
        Ok(self.read("list", &[kind]).await?.records)
    }

    async fn apply(&self, batch: Batch) -> Result<ApplyOutcome> {
        batch.validate()?;
        let mut invocation = APPLY.prepare_invoke();
        invocation
            .arg(self.keys.prefix())
            .arg(SCHEMA_VERSION)
            .arg(
                batch
                    .expected_revision
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
            )
            .arg(now_ms())
            .arg(batch.changes.len());
        for change in &batch.changes {
            match change {
                Change::Put { kind, name, body } => invocation
                    .arg("put")
                    .arg(kind.as_str())
                    .arg(name)
                    .arg(Digest::of(body.as_bytes()).as_str())
                    .arg(body),
                Change::Delete { kind, name } => invocation
                    .arg("del")
                    .arg(kind.as_str())
                    .arg(name)
                    .arg("")
                    .arg(""),
            };
        }
        let reply: Vec<String> = self
            .call("apply", |mut c, _| async move {
                invocation.invoke_async(&mut c).await
            })
            .await?;
        match reply.as_slice() {
            [status, actual] if status == "conflict" => Err(MetaError::Conflict {
                expected: batch.expected_revision.unwrap_or_default(),
                actual: self.number("apply", actual)?,
            }),
            [status, revision, changed, rest @ ..]
                if status == "ok" && rest.len() == 2 * batch.changes.len() =>
            {
                let mut results = Vec::with_capacity(batch.changes.len());
                for (change, pair) in batch.changes.iter().zip(rest.chunks(2)) {
                    let outcome = match pair[0].as_str() {
                        "created" => Outcome::Created,
                        "updated" => Outcome::Updated,
                        "unchanged" => Outcome::Unchanged,
                        "deleted" => Outcome::Deleted,
                        "absent" => Outcome::Absent,
                        other => {
                            return Err(self.protocol("apply", format!("outcome `{other}`")));
                        }
                    };
                    results.push(ChangeResult {
                        kind: change.kind(),
                        name: change.name().to_owned(),
                        outcome,
                        version: self.number("apply", &pair[1])?,
                    });
                }
                Ok(ApplyOutcome {
                    revision: self.number("apply", revision)?,
                    changed: changed == "1",
                    results,
                })
            }
            _ => Err(self.protocol("apply", format!("{reply:?}"))),
        }
    }

    async fn revision(&self) -> Result<u64> {
        let revision: Option<u64> = self
            .call("read revision", |mut c, k| async move {
                redis::cmd("GET")
                    .arg(k.revision())
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(revision.unwrap_or(0))
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        self.read("snapshot", &ResourceKind::ALL).await
    }

    async fn put_module(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        let actual = Digest::of(bytes);
        if &actual != digest {
            return Err(MetaError::DigestMismatch {
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        let key = self.keys.module(digest);
        self.call("put module", |mut c, _| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(bytes)
                .arg("NX")
                .exec_async(&mut c)
                .await
        })
        .await
    }

    async fn get_module(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        let key = self.keys.module(digest);
        let bytes: Option<Vec<u8>> = self
            .call("get module", |mut c, _| async move {
                redis::cmd("GET").arg(key).query_async(&mut c).await
            })
            .await?;
        if let Some(bytes) = &bytes {
            let actual = Digest::of(bytes);
            if &actual != digest {
                return Err(MetaError::ModuleCorrupt {
                    digest: digest.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        Ok(bytes)
    }

    async fn module_exists(&self, digest: &Digest) -> Result<bool> {
        let key = self.keys.module(digest);
        self.call("module exists", |mut c, _| async move {
            redis::cmd("EXISTS").arg(key).query_async(&mut c).await
        })
        .await
    }

    fn watch(&self) -> Feed {
        // Subscribe before the task starts: its first event, the Resync, reaches this feed.
        let feed = Feed::new(self.events.subscribe());
        self.feed_task.get_or_init(|| {
            let _guard = self.runtime.enter();
            redis_feed::spawn(
                self.client.clone(),
                self.conn.clone(),
                self.keys.clone(),
                self.target.clone(),
                self.options.clone(),
                self.events.clone(),
            )
        });
        feed
    }
}
