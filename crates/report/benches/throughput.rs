//! Throughput of `reports()` over a large synthetic console log: benign
//! boot/runtime lines repeated to ~128 MB with a few real reports mixed in.
//! Prints MB/s (criterion also reports bytes/s).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Instant;

const BENIGN: &[&str] = &[
    "[   12.345678][ T1234] audit: type=1400 audit(1600000000.123:45): avc:  denied  { read } for  pid=1234 comm=\"syz-executor\" scontext=system_u:system_r:kernel_t:s0",
    "[   12.345679][ T1234] loop0: detected capacity change from 0 to 4096",
    "[   12.345680][    C1] net_ratelimit: 2 callbacks suppressed",
    "[   12.345681][ T5678] EXT4-fs (loop0): mounted filesystem without journal. Opts: ,errors=continue",
    "2020/01/01 00:00:00 executing program 3:",
    "mmap(&(0x7f0000000000/0x1000)=nil, 0x1000, 0x3, 0x32, 0xffffffffffffffff, 0x0)",
    "[   12.345682][ T5678] netlink: 8 bytes leftover after parsing attributes in process `syz-executor.5'.",
    "[   12.345683][ T5678] FAULT_INJECTION: forcing a failure.",
];

const REPORT: &str = "[   19.121834] BUG: KASAN: use-after-free in remove_wait_queue+0x24/0x1b0
[   19.121839] Read of size 8 at addr ffff8801c75ea0f8 by task syz/3471
[   19.121852] Call Trace:
[   19.121861]  dump_stack+0x137/0x198
[   19.121889]  kasan_report+0x23b/0x360
[   19.122019]  remove_wait_queue+0x24/0x1b0
[   19.122040]  ep_free+0xae/0x230
[   19.122185] Allocated by task 3471:
";

fn build(target: usize) -> Vec<u8> {
    let mut log = Vec::with_capacity(target + 4096);
    let mut i = 0usize;
    while log.len() < target {
        log.extend_from_slice(BENIGN[i % BENIGN.len()].as_bytes());
        log.push(b'\n');
        i += 1;
        if i.is_multiple_of(500_000) {
            log.extend_from_slice(REPORT.as_bytes());
        }
    }
    log
}

fn bench(c: &mut Criterion) {
    let log = build(128 << 20);
    let t = Instant::now();
    let n = culprit_report::reports(&log).count();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "one pass: {} MB, {n} reports, {:.0} MB/s",
        log.len() >> 20,
        log.len() as f64 / 1e6 / secs
    );
    let mut g = c.benchmark_group("reports");
    g.throughput(Throughput::Bytes(log.len() as u64));
    g.sample_size(10);
    g.bench_function("128MB console log", |b| {
        b.iter(|| culprit_report::reports(&log).count())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
