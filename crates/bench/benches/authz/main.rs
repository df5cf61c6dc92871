//! `cargo bench -p bench --bench authz` (or `cargo xtask bench`): 100k
//! authorization decisions over 50 tenants × 20 teams × 40 users × 100
//! sites, 15 % cross-tenant, by rosgate's index, a plain floor, cedar-policy
//! and casbin, after checking that all four agree on every decision.

#![allow(clippy::expect_used, clippy::print_stdout)]

mod engines;

use bench::{Engine, Shape, agree, workload};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engines::{Casbin, Cedar, Floor, Rosgate};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn run(engine: &dyn Engine, requests: &[bench::Request]) -> usize {
    requests
        .iter()
        .filter(|r| engine.allows(black_box(r)))
        .count()
}

fn median_pass(engine: &dyn Engine, requests: &[bench::Request], passes: usize) -> Duration {
    let mut times: Vec<Duration> = (0..passes)
        .map(|_| {
            let start = Instant::now();
            black_box(run(engine, requests));
            start.elapsed()
        })
        .collect();
    times.sort();
    times[passes / 2]
}

fn authz(c: &mut Criterion) {
    let w = workload(Shape::ISSUE, 2026);
    let rosgate = Rosgate::new(&w);
    let floor = Floor::new(&w);
    let cedar = Cedar::new(&w);
    let casbin = Casbin::new(&w);
    let engines: [&dyn Engine; 4] = [&floor, &rosgate, &cedar, &casbin];
    let allows = agree(&engines, &w.requests).expect("all engines must agree on every decision");
    println!(
        "all four engines agree on {} requests: {allows} allowed, {} denied",
        w.requests.len(),
        w.requests.len() - allows
    );

    let mut group = c.benchmark_group("authz_100k");
    group.throughput(Throughput::Elements(w.requests.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for engine in [&floor as &dyn Engine, &rosgate] {
        group.bench_function(engine.name(), |b| b.iter(|| run(engine, &w.requests)));
    }
    // The general-purpose engines are orders of magnitude slower: measure
    // them on a slice so a run stays within minutes on two cores.
    let slice = &w.requests[..10_000];
    group.throughput(Throughput::Elements(slice.len() as u64));
    for engine in [&cedar as &dyn Engine, &casbin] {
        group.bench_function(format!("{} (10k)", engine.name()), |b| {
            b.iter(|| run(engine, slice))
        });
    }
    group.finish();

    let ns = |engine: &dyn Engine, requests: &[bench::Request]| {
        median_pass(engine, requests, 5).as_nanos() as f64 / requests.len() as f64
    };
    let floor_ns = ns(&floor, &w.requests);
    println!("\n| engine | ns per decision | ratio to floor |");
    println!("| --- | ---: | ---: |");
    println!("| floor | {floor_ns:.0} | 1.00× |");
    for (engine, requests) in [
        (&rosgate as &dyn Engine, &w.requests[..]),
        (&cedar, slice),
        (&casbin, slice),
    ] {
        let e = ns(engine, requests);
        println!("| {} | {e:.0} | {:.2}× |", engine.name(), e / floor_ns);
    }
}

criterion_group!(benches, authz);
criterion_main!(benches);
