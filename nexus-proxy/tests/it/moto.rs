//! Every store-dependent area against moto (`moto[server]<5.2`, the wider S3 surface: tagging,
//! ListMultipartUploads, conditional reads, keys that are not file paths). One moto server for
//! all areas: starting it takes a second or two. Skips with a message when moto is not
//! installed, except under CI, where that fails.

use crate::support::{Env, bounded};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_areas() {
    bounded(120, "moto::all_areas", async {
        let Some(env) = Env::moto("moto::all_areas").await else {
            return;
        };
        crate::buckets::run(&env).await;
        crate::objects::run(&env).await;
        crate::listing::run(&env).await;
        crate::reads::run(&env).await;
        crate::tagging::run(&env).await;
        crate::multipart::run(&env).await;
        crate::payloads::run(&env).await;
    })
    .await;
}
