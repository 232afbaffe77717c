//! Expansion throughput: the official waveforms, and the largest pattern the limits allow
//! (share parse + expand).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dglab_core::waveform::share;

const OFFICIAL: &str = include_str!("../tests/data/official-waveforms.json");

/// 10 sections × 500 points at the longest duration and play rate 4: 30 000 frames.
fn largest() -> String {
    let points: Vec<String> = (0..500)
        .map(|i| format!("{}.5-{}", i % 100, i % 2))
        .collect();
    let section = format!("0,83,99,2,1/{}", points.join(","));
    format!(
        "Dungeonlab+pulse:100,4,16={}",
        vec![section; 10].join("+section+")
    )
}

fn bench(c: &mut Criterion) {
    let vectors: Vec<serde_json::Value> = serde_json::from_str(OFFICIAL).unwrap();
    let raws: Vec<String> = vectors
        .iter()
        .map(|v| v["raw"].as_str().unwrap().to_owned())
        .collect();
    let patterns: Vec<_> = raws
        .iter()
        .map(|r| share::parse_strict(r).unwrap())
        .collect();
    let official_frames: usize = patterns.iter().map(|p| p.frames().len()).sum();

    let mut g = c.benchmark_group("official");
    g.throughput(Throughput::Elements(official_frames as u64));
    g.bench_function("expand 8", |b| {
        b.iter(|| {
            patterns
                .iter()
                .map(|p| black_box(p).frames().len())
                .sum::<usize>()
        })
    });
    g.bench_function("parse+expand 8", |b| {
        b.iter(|| {
            raws.iter()
                .map(|r| share::parse(black_box(r)).unwrap().pattern.frames().len())
                .sum::<usize>()
        })
    });
    g.finish();

    let text = largest();
    let pattern = share::parse_strict(&text).unwrap();
    let frames = pattern.frames().len();
    assert_eq!(frames, 30_010);
    let mut g = c.benchmark_group("largest");
    g.throughput(Throughput::Elements(frames as u64));
    g.bench_function("expand", |b| b.iter(|| black_box(&pattern).frames().len()));
    g.bench_function("parse+expand", |b| {
        b.iter(|| {
            share::parse(black_box(&text))
                .unwrap()
                .pattern
                .frames()
                .len()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("largest text");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse only", |b| {
        b.iter(|| share::parse(black_box(&text)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
