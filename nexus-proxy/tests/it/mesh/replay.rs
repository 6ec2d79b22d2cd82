//! The brokers' replays (Kafka, Pulsar, Pravega; `replays.rs`) through a three-swarmlet mesh
//! entered at the cloud worker, against moto: the same answers as straight to moto, the data
//! stored compressed, and every edge stage run at the edge.

use super::{Mesh, Spec};
use crate::replays::{buckets, leaves_nothing, replay_systems};
use crate::support::backends::{BACKEND_KEYS, MotoServer};
use crate::support::metrics::scrape;
use crate::support::{bounded, client_config, policies_dir};

fn calls(m: &crate::support::metrics::Scrape, streamlet: &str) -> f64 {
    m.value(
        "nexus_streamlet_call_duration_seconds_count",
        &[("streamlet", streamlet)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_replays_through_the_mesh_match_the_direct_run() {
    let Some(moto) = MotoServer::start_or_skip("mesh replays").await else {
        return;
    };
    let Some(mut mesh) = Mesh::start_with("mesh::replay", Vec::new(), policies_dir()).await else {
        return;
    };
    mesh.backend_url = Some(moto.endpoint.clone());
    for spec in Spec::three_swarmlets() {
        mesh.spawn(spec).await;
    }
    bounded(400, "mesh replays", async {
        mesh.wait_members(3).await;
        let direct = aws_sdk_s3::Client::from_conf(
            client_config(&moto.endpoint, None, BACKEND_KEYS.0, BACKEND_KEYS.1)
                .force_path_style(true)
                .build(),
        );
        buckets(&direct).await;
        let cloud = mesh.workers[2].client();
        replay_systems(&direct, &cloud, Some(&direct)).await;
        leaves_nothing(Some(&direct)).await;
        // The shipped policies place every stage at the edge: the first swarmlet by name there
        // ran them all, the cloud entry none.
        let edge = scrape(mesh.workers[0].admin).await;
        let entry = scrape(mesh.workers[2].admin).await;
        for s in ["compress-zstd", "compress-gzip"] {
            assert!(calls(&edge, s) > 0.0, "{s} did not run at the edge");
            assert_eq!(calls(&entry, s), 0.0, "{s} ran on the cloud entry");
        }
    })
    .await;
}
