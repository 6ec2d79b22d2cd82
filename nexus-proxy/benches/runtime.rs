//! The streamlet runtime by itself, without a network, a client or a request path sharing its
//! cores: compress-zstd against native libzstd on one thread, the same frames on two threads at
//! once (frame parallelism), decoding, and what an invocation costs by itself (`noop`).
//!
//! ```sh
//! bash scripts/build-streamlets.sh
//! cargo bench -p nexus-proxy --bench runtime            # -- --frames 256 --level 3
//! ```
//!
//! Every frame runs the way the worker runs it: a fresh instance from the cached
//! `InstancePre`, the descriptor's limits, the frame pushed in 1 MiB slices. Not a test: it
//! prints a Markdown table for BENCHMARKS.md and fails only if a frame does not round-trip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nexus_core::meta::Digest;
use nexus_proxy::streamlet::{
    Call, ChunkInfo, Direction, FrameInfo, Limits, Loaded, ObjectRef, Runtime, SharedContext,
};

const FRAME: usize = 1 << 20;

struct Args {
    dist: PathBuf,
    loghub: PathBuf,
    frames: usize,
    level: i32,
}

fn args() -> Args {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut a = Args {
        dist: root.join("streamlets/dist"),
        loghub: root.join("../shared/data/loghub"),
        frames: 256,
        level: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--dist" => a.dist = value().into(),
            "--loghub" => a.loghub = value().into(),
            "--frames" => a.frames = value().parse().expect("--frames N"),
            "--level" => a.level = value().parse().expect("--level N"),
            // cargo bench passes --bench.
            _ => {}
        }
    }
    a
}

/// The loghub logs, concatenated and repeated (each round numbered), cut into 1 MiB frames.
fn frames(loghub: &Path, n: usize) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(loghub)
        .expect("loghub directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    for f in files {
        all.extend(std::fs::read(f).expect("log file"));
    }
    let mut text = Vec::new();
    let mut round = 0;
    while text.len() < n * FRAME {
        text.extend_from_slice(format!("round {round}\n").as_bytes());
        text.extend_from_slice(&all);
        round += 1;
    }
    text.chunks(FRAME).take(n).map(<[u8]>::to_vec).collect()
}

fn load(rt: &Runtime, dist: &Path, name: &str) -> Arc<Loaded> {
    let wasm = std::fs::read(dist.join(format!("{name}.wasm"))).unwrap_or_else(|e| {
        panic!(
            "{name}.wasm in {} ({e}): run scripts/build-streamlets.sh",
            dist.display()
        )
    });
    rt.compile(&Digest::of(&wasm), &wasm).expect("compile")
}

fn call(name: &str, level: i32, direction: Direction, i: usize, len: usize) -> Call {
    let mut params = serde_json::Map::new();
    params.insert("level".into(), level.into());
    Call {
        streamlet: Arc::from(name),
        request_id: Arc::from("bench"),
        params: Arc::new(params),
        limits: Limits {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(10),
        },
        direction,
        info: Arc::new(ChunkInfo {
            object: ObjectRef {
                bucket: "bench".into(),
                key: "segment.log".into(),
            },
            system: String::new(),
            stream_name: None,
            partition: None,
            size: None,
            content_type: None,
        }),
        frame: FrameInfo {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            offset: (i * FRAME) as u64,
            length: len as u64,
        },
        ctx: SharedContext::writable(BTreeMap::new()),
        state: None,
    }
}

/// Runs `inputs` through `loaded` on `threads` threads at once (frames dealt round-robin),
/// [`ROUNDS`] times: the outputs in frame order and the best wall time (this machine's
/// neighbours make single runs vary by a third).
fn run(
    rt: &Arc<Runtime>,
    loaded: &Arc<Loaded>,
    name: &str,
    level: i32,
    direction: Direction,
    inputs: &[Vec<u8>],
    threads: usize,
) -> (Vec<Vec<u8>>, Duration) {
    let mut outs = Vec::new();
    let best = best_of(|| {
        let started = Instant::now();
        let mut ran: Vec<(usize, Vec<u8>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut mine = Vec::new();
                        for (i, input) in inputs.iter().enumerate().skip(t).step_by(threads) {
                            let c = call(name, level, direction, i, input.len());
                            let out = rt
                                .run_blocking(loaded, &c, input)
                                .unwrap_or_else(|e| panic!("{name} frame {i}: {e}"));
                            mine.push((i, out));
                        }
                        mine
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("bench thread"))
                .collect()
        });
        let took = started.elapsed();
        ran.sort_by_key(|(i, _)| *i);
        outs = ran.into_iter().map(|(_, o)| o).collect();
        took
    });
    (outs, best)
}

/// Best of this many runs of each measurement.
const ROUNDS: usize = 3;

fn best_of(mut f: impl FnMut() -> Duration) -> Duration {
    (0..ROUNDS).map(|_| f()).min().unwrap_or_default()
}

fn mib_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

fn main() {
    let a = args();
    let inputs = frames(&a.loghub, a.frames);
    let total: usize = inputs.iter().map(Vec::len).sum();
    let rt = Runtime::new(None, 2).expect("runtime");
    let zstd = load(&rt, &a.dist, "compress-zstd");
    let noop = load(&rt, &a.dist, "noop");
    // Warm: the pool's memories touched, code paged in.
    let warm = &inputs[..inputs.len().min(8)];
    let zstd_run = |direction, inputs: &[Vec<u8>], threads| {
        run(
            &rt,
            &zstd,
            "compress-zstd",
            a.level,
            direction,
            inputs,
            threads,
        )
    };
    let noop_run = |inputs: &[Vec<u8>], threads| {
        run(&rt, &noop, "noop", a.level, Direction::Put, inputs, threads)
    };
    zstd_run(Direction::Put, warm, 2);
    noop_run(warm, 2);

    let (packed, wasm_put) = zstd_run(Direction::Put, &inputs, 1);
    let (_, wasm_put2) = zstd_run(Direction::Put, &inputs, 2);
    let (unpacked, wasm_get) = zstd_run(Direction::Get, &packed, 1);
    assert!(unpacked == inputs, "compress-zstd does not round-trip");
    let (_, noop_put) = noop_run(&inputs, 1);

    let mut native = Vec::new();
    let native_put = best_of(|| {
        let started = Instant::now();
        native = inputs
            .iter()
            .map(|f| zstd::bulk::compress(f, a.level).expect("native compress"))
            .collect();
        started.elapsed()
    });
    let native_get = best_of(|| {
        let started = Instant::now();
        for (f, plain) in native.iter().zip(&inputs) {
            let out = zstd::bulk::decompress(f, FRAME).expect("native decompress");
            assert!(out.len() == plain.len());
        }
        started.elapsed()
    });
    let stored: usize = packed.iter().map(Vec::len).sum();
    let native_stored: usize = native.iter().map(Vec::len).sum();

    let per_frame = |d: Duration| d.as_secs_f64() * 1e3 / inputs.len() as f64;
    println!(
        "### The streamlet runtime by itself ({} MiB of loghub text in 1 MiB frames, level {}, best of {ROUNDS})\n",
        total >> 20,
        a.level
    );
    println!("| what | threads | MiB/s | ms per frame | vs native |");
    println!("|---|---|---|---|---|");
    let row = |what: &str, threads: usize, d: Duration, native: Duration| {
        println!(
            "| {what} | {threads} | {:.0} | {:.2} | {:.2} |",
            mib_s(total, d),
            per_frame(d),
            native.as_secs_f64() / d.as_secs_f64()
        );
    };
    row("compress-zstd, compress (WASM)", 1, wasm_put, native_put);
    row("native libzstd, compress", 1, native_put, native_put);
    row("compress-zstd, compress (WASM)", 2, wasm_put2, native_put);
    row("compress-zstd, decompress (WASM)", 1, wasm_get, native_get);
    row("native libzstd, decompress", 1, native_get, native_get);
    row("noop (an invocation by itself)", 1, noop_put, native_put);
    println!(
        "\nStored: compress-zstd {} bytes, native {} bytes (ratio {:.2}); two threads / one: {:.2}×.",
        stored,
        native_stored,
        total as f64 / stored as f64,
        wasm_put.as_secs_f64() / wasm_put2.as_secs_f64()
    );
}
