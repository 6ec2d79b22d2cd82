//! The mesh's shared model (`docs/mesh-protocol.md`): worker records and the membership view
//! ([`member`]), the consistent-hash ring that picks a partition's owner ([`ring`]), and the
//! Redis side of membership and fenced streamlet state ([`RedisCluster`]).
//!
//! Membership lives in the metadata store's Redis (`P workers:<swarmlet>`, `P beats:<swarmlet>`,
//! `P epoch:<swarmlet>`, `P swarmlets`); every worker calls [`RedisCluster::beat`] every
//! [`HEARTBEAT`], which registers it, prunes members silent for longer than [`DEAD_AFTER`]
//! (bumping their swarmlet's epoch) and returns the whole [`View`] in one script.

mod member;
mod redis;
pub mod ring;
mod state;

use std::time::Duration;

pub use self::member::{SwarmletView, View, WorkerRecord, validate_label};
pub use self::redis::{ClusterError, RedisCluster};
pub use self::ring::Ring;
pub use self::state::{StateWrite, StateWrites, route_key};

/// How often a worker heartbeats (and refreshes its view).
pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// A worker silent this long is dead and pruned by the next heartbeat of any worker.
pub const DEAD_AFTER: Duration = Duration::from_millis(1500);
