//! `route-by-key`: sends the chunks whose key contains `match` to the alternative store
//! `store`, remembers each one in a persistent map of its partition's state, and serves their
//! reads from there through the pre-GET hook. Bytes pass through unchanged.
//!
//! The map is the paper's `@Persistent`: it lives in the partition owner's state (Redis),
//! committed before the broker's PUT is acknowledged, so any owner after a failover finds the
//! chunk again.

use nexus_streamlet::source::{DataSource, GetRequest, PreGet};
use nexus_streamlet::state::{Persistent, add};
use nexus_streamlet::{ByteStreamlet, ChunkInfo, Context, Direction, Error, FrameInfo, params};

/// Object key → the store it was sent to.
static ROUTED: Persistent<String> = Persistent::new("routed");

struct RouteByKey {
    /// On the first frame of a PUT of a matching key: the store to send it to.
    route: Option<(String, String)>,
}

impl ByteStreamlet for RouteByKey {
    fn new(dir: Direction, info: &ChunkInfo, frame: &FrameInfo) -> Result<Self, Error> {
        let pattern: String = params::get_or("match", String::new())?;
        let key = &info.object.key;
        let matches = !pattern.is_empty() && key.contains(pattern.as_str());
        let route = if matches!(dir, Direction::Put) && frame.index == 0 && matches {
            let store = params::get::<String>("store")?
                .ok_or_else(|| Error::Rejected("route-by-key: `store` is not set".into()))?;
            Some((key.clone(), store))
        } else {
            None
        };
        Ok(Self { route })
    }

    fn push(&mut self, ctx: &Context, chunk: Vec<u8>) -> Result<Vec<u8>, Error> {
        if let Some((key, store)) = self.route.take() {
            ctx.route_to(&store)
                .map_err(|e| Error::Internal(format!("route-by-key: context: {e:?}")))?;
            ROUTED.insert(&key, &store)?;
            add("routed-chunks", 1)?;
        }
        Ok(chunk)
    }

    fn finish(mut self, ctx: &Context) -> Result<Vec<u8>, Error> {
        // An empty object has no push.
        self.push(ctx, Vec::new())
    }
}

impl DataSource for RouteByKey {
    fn pre_get(_: &Context, req: &GetRequest) -> Result<PreGet, Error> {
        Ok(match ROUTED.get(&req.object.key)? {
            Some(store) => PreGet::ServeSource {
                store,
                key: req.object.key.clone(),
            },
            None => PreGet::Pass,
        })
    }
}

nexus_streamlet::routing_streamlet!(RouteByKey);
