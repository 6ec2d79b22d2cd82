//! The Markdown report of `nexus-bench run`.

use std::fmt::Write;
use std::time::Duration;

use crate::load::{LoadResult, Op};
use crate::machine::Machine;
use crate::matrix::{Cell, Measured, MemoryRun, ratio};
use crate::units::format_size;

/// Targets of the foundation issue.
const BIG_RATIO_TARGET: f64 = 0.98;
const SMALL_GET_RATIO_TARGET: f64 = 0.85;
const PEAK_RSS_TARGET_MIB: f64 = 64.0;

/// One correctness check, direct or through the proxy.
#[derive(Debug)]
pub struct CheckLine {
    pub path: &'static str,
    pub name: &'static str,
    pub result: Result<(), String>,
}

/// Everything the report shows.
#[derive(Debug)]
pub struct Report {
    pub command: String,
    pub quick: bool,
    pub machine: Machine,
    /// Load averages before the run started.
    pub load_before: String,
    pub proxy_bin: String,
    pub proxy_idle_rss_kib: Option<u64>,
    pub checks: Vec<CheckLine>,
    pub cells: Vec<Cell>,
    pub memory: Vec<MemoryRun>,
    pub elapsed: Duration,
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("-".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn p50_p99(l: &LoadResult) -> String {
    match (
        l.latencies.percentile_ms(50.0),
        l.latencies.percentile_ms(99.0),
    ) {
        (Some(a), Some(b)) => format!("{} / {}", ms(a), ms(b)),
        _ => "-".to_owned(),
    }
}

/// Milliseconds with precision that suits their magnitude.
fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn per_gib(cpu: f64, l: &LoadResult) -> String {
    let gib = l.gib();
    if gib > 0.0 {
        format!("{:.2}", cpu / gib)
    } else {
        "-".to_owned()
    }
}

fn per_req_us(cpu: f64, l: &LoadResult) -> String {
    if l.ok > 0 {
        format!("{:.0}", cpu * 1e6 / l.ok as f64)
    } else {
        "-".to_owned()
    }
}

fn busy(m: &Measured) -> String {
    let s = m.load.elapsed.as_secs_f64();
    if s <= 0.0 {
        return "-".to_owned();
    }
    let total = m.cpu.client + m.cpu.backend + m.cpu.proxy.unwrap_or(0.0);
    format!("{:.2}", total / s)
}

/// Renders the report.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = render_into(&mut s, r);
    s
}

fn render_into(s: &mut String, r: &Report) -> std::fmt::Result {
    let now = time::OffsetDateTime::now_utc();
    writeln!(s, "# nexus-bench: pass-through proxy vs direct\n")?;
    writeln!(s, "- Command: `{}`", r.command)?;
    writeln!(
        s,
        "- Date (UTC): {}-{:02}-{:02} {:02}:{:02}; run took {:.0} s{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        r.elapsed.as_secs_f64(),
        if r.quick { " (--quick)" } else { "" }
    )?;
    let m = &r.machine;
    writeln!(
        s,
        "- Machine: {} CPUs (nproc), {}, {} RAM, Linux {}",
        m.nproc, m.cpu_model, m.mem_total, m.kernel
    )?;
    writeln!(
        s,
        "- Load average (1/5/15 min) before the run: {}; after: {} (other work on the machine \
         skews the numbers)",
        r.load_before, m.load_avg
    )?;
    writeln!(
        s,
        "- Proxy: `{}`, idle RSS {} MiB",
        r.proxy_bin,
        mib(r.proxy_idle_rss_kib)
    )?;
    writeln!(
        s,
        "- Client, proxy and in-memory backend share these cores over loopback: ratios are \
         ratios of what each setup achieves on the same CPUs, not network-bound numbers."
    )?;
    writeln!(
        s,
        "- Client: aws-sdk-s3, path-style, payload signing disabled (`UNSIGNED-PAYLOAD`, the \
         client does not hash bodies), checksums only when required, no retries. GET bodies \
         are read to the end and their length checked.\n"
    )?;

    checks_section(s, r)?;
    targets_section(s, r)?;
    for op in [Op::Put, Op::Get] {
        let cells: Vec<&Cell> = r.cells.iter().filter(|c| c.op == op).collect();
        if cells.is_empty() {
            continue;
        }
        writeln!(s, "## {op}\n")?;
        writeln!(
            s,
            "| size | conc | direct MiB/s | proxy MiB/s | ratio | direct p50/p99 ms | proxy p50/p99 ms | proxy CPU-s/GiB | proxy peak RSS MiB | direct / proxy req/s | errors d/p |"
        )?;
        writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|")?;
        for c in &cells {
            let (d, p) = (&c.direct.load, &c.proxy.load);
            writeln!(
                s,
                "| {} | {} | {:.1} | {:.1} | {:.2} | {} | {} | {} | {} | {:.0} / {:.0} | {}/{} |",
                format_size(c.size),
                c.concurrency,
                d.mib_per_s(),
                p.mib_per_s(),
                ratio(p.mib_per_s(), d.mib_per_s()),
                p50_p99(d),
                p50_p99(p),
                per_gib(c.proxy.cpu.proxy.unwrap_or(0.0), p),
                mib(c.proxy.proxy_peak_kib),
                d.req_per_s(),
                p.req_per_s(),
                d.errors,
                p.errors,
            )?;
        }
        writeln!(s)?;
    }
    cpu_section(s, r)?;
    memory_section(s, r)?;
    errors_section(s, r)
}

fn checks_section(s: &mut String, r: &Report) -> std::fmt::Result {
    let failed: Vec<&CheckLine> = r.checks.iter().filter(|c| c.result.is_err()).collect();
    writeln!(s, "## Correctness checks\n")?;
    let per_path = r.checks.len() / 2;
    if failed.is_empty() {
        writeln!(
            s,
            "All {per_path} checks (sizes, ranges, 404/416, aws-chunked PUT) passed direct and through the proxy.\n"
        )?;
    } else {
        for c in failed {
            if let Err(e) = &c.result {
                writeln!(s, "- FAILED {} / {}: {e}", c.path, c.name)?;
            }
        }
        writeln!(s)?;
    }
    Ok(())
}

fn find(r: &Report, op: Op, size: u64, conc: usize) -> Option<&Cell> {
    r.cells
        .iter()
        .find(|c| c.op == op && c.size == size && c.concurrency == conc)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn targets_section(s: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(s, "## Targets\n")?;
    for op in [Op::Put, Op::Get] {
        for size in [8u64 << 20, 64 << 20] {
            if let Some(c) = find(r, op, size, 8) {
                let q = ratio(c.proxy.load.mib_per_s(), c.direct.load.mib_per_s());
                writeln!(
                    s,
                    "- {op} {} at concurrency 8: proxy/direct throughput {q:.2} (target >= {BIG_RATIO_TARGET}): {}",
                    format_size(size),
                    verdict(q >= BIG_RATIO_TARGET)
                )?;
            }
        }
    }
    if let Some(c) = find(r, Op::Get, 4 << 10, 16) {
        let q = ratio(c.proxy.load.req_per_s(), c.direct.load.req_per_s());
        writeln!(
            s,
            "- GET 4 KiB at 16 connections: proxy/direct request rate {q:.2} ({:.0} / {:.0} req/s; target >= {SMALL_GET_RATIO_TARGET}): {}",
            c.proxy.load.req_per_s(),
            c.direct.load.req_per_s(),
            verdict(q >= SMALL_GET_RATIO_TARGET)
        )?;
    }
    for m in &r.memory {
        let peak = m.measured.proxy_peak_kib.unwrap_or(u64::MAX) as f64 / 1024.0;
        writeln!(
            s,
            "- Proxy peak RSS, {} concurrent {} {}s: {peak:.1} MiB (target <= {PEAK_RSS_TARGET_MIB} MiB): {}",
            m.concurrency,
            format_size(m.size),
            m.op,
            verdict(peak <= PEAK_RSS_TARGET_MIB && m.measured.load.errors == 0)
        )?;
    }
    writeln!(s)
}

fn cpu_section(s: &mut String, r: &Report) -> std::fmt::Result {
    if r.cells.is_empty() {
        return Ok(());
    }
    writeln!(s, "## Where the CPU goes\n")?;
    writeln!(
        s,
        "CPU-seconds (utime+stime from /proc/<pid>/stat) per GiB moved, per process; \"cores busy\" \
         is the three processes' CPU time divided by wall time (2 = both cores saturated).\n"
    )?;
    writeln!(
        s,
        "| op | size | conc | client CPU-s/GiB d/p | backend CPU-s/GiB d/p | proxy CPU-s/GiB | proxy CPU µs/req | cores busy d/p |"
    )?;
    writeln!(s, "|---|---|---|---|---|---|---|---|")?;
    for c in &r.cells {
        let (d, p) = (&c.direct, &c.proxy);
        let proxy_cpu = p.cpu.proxy.unwrap_or(0.0);
        writeln!(
            s,
            "| {} | {} | {} | {} / {} | {} / {} | {} | {} | {} / {} |",
            c.op,
            format_size(c.size),
            c.concurrency,
            per_gib(d.cpu.client, &d.load),
            per_gib(p.cpu.client, &p.load),
            per_gib(d.cpu.backend, &d.load),
            per_gib(p.cpu.backend, &p.load),
            per_gib(proxy_cpu, &p.load),
            per_req_us(proxy_cpu, &p.load),
            busy(d),
            busy(p),
        )?;
    }
    writeln!(s)
}

fn memory_section(s: &mut String, r: &Report) -> std::fmt::Result {
    if r.memory.is_empty() {
        return Ok(());
    }
    writeln!(s, "## Memory scenario (through the proxy)\n")?;
    writeln!(
        s,
        "Peak RSS is VmHWM from /proc/<pid>/status, reset before each run by writing 5 to \
         /proc/<pid>/clear_refs.\n"
    )?;
    writeln!(
        s,
        "| op | objects | conc | MiB/s | p50/p99 ms | errors | proxy CPU-s/GiB | proxy peak RSS MiB |"
    )?;
    writeln!(s, "|---|---|---|---|---|---|---|---|")?;
    for m in &r.memory {
        let l = &m.measured.load;
        writeln!(
            s,
            "| {} | {} x {} | {} | {:.1} | {} | {} | {} | {} |",
            m.op,
            l.ok + l.errors,
            format_size(m.size),
            m.concurrency,
            l.mib_per_s(),
            p50_p99(l),
            l.errors,
            per_gib(m.measured.cpu.proxy.unwrap_or(0.0), l),
            mib(m.measured.proxy_peak_kib),
        )?;
    }
    writeln!(s)
}

fn errors_section(s: &mut String, r: &Report) -> std::fmt::Result {
    let mut lines = Vec::new();
    for c in &r.cells {
        for (path, m) in [("direct", &c.direct), ("proxy", &c.proxy)] {
            for e in &m.load.error_samples {
                lines.push(format!(
                    "- {} {} x{} {path}: {e}",
                    c.op,
                    format_size(c.size),
                    c.concurrency
                ));
            }
        }
    }
    for m in &r.memory {
        for e in &m.measured.load.error_samples {
            lines.push(format!("- memory {} {}: {e}", m.op, format_size(m.size)));
        }
    }
    if !lines.is_empty() {
        writeln!(s, "## Errors (samples)\n")?;
        for l in lines {
            writeln!(s, "{l}")?;
        }
        writeln!(s)?;
    }
    Ok(())
}
