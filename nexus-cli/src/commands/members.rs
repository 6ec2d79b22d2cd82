//! The live workers of the mesh, as `nexus swarmlet list` and `nexus status` show them: read
//! from the metadata store's Redis (the embedded store has no mesh).

use nexus_core::cluster::{RedisCluster, Ring, View};

use super::Ctx;
use super::output::print_table;

/// The membership view, or `None` when the metadata store is not Redis.
pub async fn view(ctx: &Ctx) -> anyhow::Result<Option<View>> {
    if !ctx.meta_url().starts_with("redis") {
        return Ok(None);
    }
    let cluster = RedisCluster::connect(ctx.meta_url()).await?;
    Ok(Some(cluster.view().await?))
}

/// One row per live worker: swarmlet, id, location, hardware, address, last heartbeat, ring
/// share in its swarmlet, policy revision.
#[must_use]
pub fn rows(view: &View) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (name, s) in &view.swarmlets {
        let ring = Ring::new(s.workers.iter().map(|(w, _)| w.id.as_str()));
        let shares = ring.shares();
        for (w, beat) in &s.workers {
            rows.push(vec![
                name.clone(),
                w.id.clone(),
                w.location.clone(),
                if w.hardware.is_empty() {
                    "-".into()
                } else {
                    w.hardware.join(",")
                },
                w.advertise.clone(),
                format!("{}ms ago", view.now_ms.saturating_sub(*beat)),
                format!("{:.1}%", shares.get(&w.id).copied().unwrap_or(0.0) * 100.0),
                w.policy_revision.to_string(),
                s.epoch.to_string(),
            ]);
        }
    }
    rows
}

pub const HEADERS: [&str; 9] = [
    "SWARMLET",
    "WORKER",
    "LOCATION",
    "HARDWARE",
    "ADDRESS",
    "HEARTBEAT",
    "SHARE",
    "REVISION",
    "EPOCH",
];

/// The view as JSON.
#[must_use]
pub fn json(view: &View) -> serde_json::Value {
    let rows = rows(view);
    serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                serde_json::Value::Object(
                    HEADERS
                        .iter()
                        .zip(r)
                        .map(|(h, v)| (h.to_ascii_lowercase(), v.clone().into()))
                        .collect(),
                )
            })
            .collect(),
    )
}

/// Prints the workers table (or says that there is no mesh).
pub fn print(view: Option<&View>) {
    match view {
        None => println!("workers: none (single-node mode; the mesh needs a Redis metadata store)"),
        Some(v) if v.workers().next().is_none() => println!("workers: none live"),
        Some(v) => print_table(&HEADERS, &rows(v)),
    }
}
