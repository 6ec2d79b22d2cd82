//! The Redis change feed: a dedicated pub/sub connection on `P events`, reconnected with
//! exponential backoff (capped by `reconnect_max_delay`). Pub/sub drops messages while
//! disconnected, so every (re)subscription is followed by a `Resync` carrying the revision read
//! right after subscribing: a watcher reloads and misses nothing.

use std::time::Duration;

use futures::StreamExt as _;
use redis::aio::ConnectionManager;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::feed::{ChangeEvent, Event, EventOp};
use super::record::ResourceKind;
use super::redis_keys::Keys;
use super::redis_options::RedisOptions;

const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The background task; aborted when dropped (with its store).
#[derive(Debug)]
pub(crate) struct FeedTask(Option<JoinHandle<()>>);

impl Drop for FeedTask {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// A message on `P events`.
#[derive(serde::Deserialize)]
struct Message {
    rev: u64,
    changes: Vec<MessageChange>,
}

#[derive(serde::Deserialize)]
struct MessageChange {
    kind: ResourceKind,
    name: String,
    op: EventOp,
    version: u64,
}

struct Feed {
    client: redis::Client,
    conn: ConnectionManager,
    keys: Keys,
    target: String,
    options: RedisOptions,
    events: broadcast::Sender<Event>,
}

pub(crate) fn spawn(
    client: redis::Client,
    conn: ConnectionManager,
    keys: Keys,
    target: String,
    options: RedisOptions,
    events: broadcast::Sender<Event>,
) -> FeedTask {
    let feed = Feed {
        client,
        conn,
        keys,
        target,
        options,
        events,
    };
    FeedTask(Some(tokio::spawn(feed.run())))
}

// === impl Feed ===

impl Feed {
    async fn run(self) {
        let mut delay = FIRST_RETRY;
        loop {
            let subscribed = match self.session(&mut delay).await {
                Ok(()) => "the subscription ended",
                Err(e) => e,
            };
            tracing::warn!(
                store = %self.target,
                retry_in = ?delay,
                "Metadata change feed lost: {subscribed}; reconnecting."
            );
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.options.reconnect_max_delay);
        }
    }

    /// One subscription, from connect to loss. Resets `delay` once subscribed.
    async fn session(&self, delay: &mut Duration) -> Result<(), &'static str> {
        let timeout = self.options.connect_timeout;
        let pubsub = tokio::time::timeout(timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| "connect timed out")?
            .map_err(|e| {
                tracing::debug!(error = %e, "Change feed connect failed.");
                "cannot connect"
            })?;
        let (mut sink, mut stream) = pubsub.split();
        tokio::time::timeout(timeout, sink.subscribe(self.keys.events()))
            .await
            .map_err(|_| "subscribe timed out")?
            .map_err(|_| "subscribe failed")?;
        *delay = FIRST_RETRY;
        // Anything published before this point was lost to us: tell watchers to reload.
        let revision = self.revision().await;
        tracing::debug!(store = %self.target, ?revision, "Metadata change feed subscribed.");
        let _ = self.events.send(Event::Resync { revision });

        let mut ping = tokio::time::interval(self.options.feed_ping_interval);
        ping.reset();
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { return Ok(()) };
                    self.publish(message.get_payload_bytes());
                }
                _ = ping.tick() => {
                    let pong = tokio::time::timeout(
                        self.options.response_timeout,
                        sink.ping::<redis::Value>(),
                    )
                    .await;
                    if !matches!(pong, Ok(Ok(_))) {
                        return Err("ping failed");
                    }
                }
            }
        }
    }

    async fn revision(&self) -> Option<u64> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.keys.revision());
        let get = cmd.query_async::<Option<u64>>(&mut conn);
        match tokio::time::timeout(self.options.response_timeout, get).await {
            Ok(Ok(revision)) => Some(revision.unwrap_or(0)),
            _ => None,
        }
    }

    fn publish(&self, payload: &[u8]) {
        match serde_json::from_slice::<Message>(payload) {
            Ok(message) => {
                for change in message.changes {
                    let _ = self.events.send(Event::Changed(ChangeEvent {
                        revision: message.rev,
                        kind: change.kind,
                        name: change.name,
                        op: change.op,
                        version: change.version,
                    }));
                }
            }
            Err(e) => {
                // A newer writer's format, or garbage: reload rather than guess.
                tracing::warn!(store = %self.target, error = %e, "Unreadable change-feed message; resyncing.");
                let _ = self.events.send(Event::Resync { revision: None });
            }
        }
    }
}
