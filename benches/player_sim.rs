//! The player against the simulated App, on tokio's paused clock: per seed, 10 simulated
//! minutes of looping on both channels, then 200 switches on A while B loops.
//!
//! Run with `cargo bench --bench player_sim`. The model (0–80 ms ordered link, 500-frame
//! queue, 100 ms App clock with random phase, clears taking effect up to 15 ms late) is in
//! `tests/support/sim_app.rs`; the scenarios are the ones `tests/player.rs` asserts on.

#[path = "../tests/support/scenarios.rs"]
mod scenarios;
#[path = "../tests/support/sim_app.rs"]
mod sim_app;

use dglab_core::player::PlayerConfig;
use scenarios::{quantile, run_loop, run_loop_on, run_switches, SwitchOutcome};
use sim_app::SimConfig;
use std::time::Duration;

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];
const MINUTES: u64 = 10;
const SWITCHES: usize = 200;

fn paused<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
        .block_on(f)
}

fn ms(d: Duration) -> String {
    format!("{}", d.as_millis())
}

fn latency_cols(sorted: &[Duration]) -> String {
    format!(
        "{:>5} {:>5} {:>5} {:>5}",
        ms(quantile(sorted, 0.50)),
        ms(quantile(sorted, 0.95)),
        ms(quantile(sorted, 0.99)),
        ms(sorted.last().copied().unwrap_or_default()),
    )
}

fn main() {
    let wall = std::time::Instant::now();
    let config = PlayerConfig::default();
    println!(
        "player_sim: lead {} ms, top_up {} ms, switch_gap {} ms; link 0-80 ms ordered; App queue 500",
        config.lead.as_millis(),
        config.top_up.as_millis(),
        config.switch_gap.as_millis()
    );
    println!();
    println!("loop, {MINUTES} simulated minutes, A = ripple (57 frames), B = breath (12 frames)");
    println!(
        "{:>4} | {:>11} | {:>4} | {:>9} | {:>10} | {:>8} | {:>9}",
        "seed", "played A/B", "gaps", "overflows", "max queue", "max lead", "misorders"
    );
    let mut all = Vec::new();
    for seed in SEEDS {
        let [a, b] = paused(run_loop(seed, MINUTES, config));
        println!(
            "{seed:>4} | {:>5}/{:<5} | {:>4} | {:>9} | {:>10} | {:>8} | {:>9}",
            a.played,
            b.played,
            a.gaps + b.gaps,
            a.overflows + b.overflows,
            a.max_queue.max(b.max_queue),
            a.max_lead.max(b.max_lead),
            a.mismatches + b.mismatches,
        );
    }
    println!();
    println!("switches, {SWITCHES} per seed on A (1-150-frame passes, 10 ms-3 s apart), B looping");
    println!(
        "{:>4} | {:>6} | {:>5} {:>5} {:>5} {:>5} | {:>5} | {:>6} | {:>8} | {:>9} | {:>9} | {:>10}",
        "seed",
        "played",
        "p50",
        "p95",
        "p99",
        "max",
        "stale",
        "broken",
        "gaps A/B",
        "overflows",
        "max queue",
        "after stop"
    );
    for seed in SEEDS {
        let o: SwitchOutcome = paused(run_switches(seed, SWITCHES, config));
        let mut l = o.latencies.clone();
        l.sort();
        println!(
            "{seed:>4} | {:>6} | {} | {:>5} | {:>6} | {:>3}/{:<4} | {:>9} | {:>9} | {:>10}",
            l.len(),
            latency_cols(&l),
            o.stale,
            o.broken,
            o.a.gaps,
            o.b.gaps + o.b.mismatches as u64,
            o.a.overflows + o.b.overflows,
            o.a.max_queue.max(o.b.max_queue),
            o.sends_after_stop + o.played_after_clear,
        );
        all.extend(l);
    }
    all.sort();
    println!(
        " all | {:>6} | {} |   (latency = play() -> first new frame played by the App, ms)",
        all.len(),
        latency_cols(&all)
    );
    println!();
    println!(
        "switch_gap sweep (seed 1, {SWITCHES} switches): broken = first frames wiped by the clear"
    );
    println!(
        "{:>7} | {:>6} | {:>5} {:>5} {:>5} {:>5}",
        "gap ms", "broken", "p50", "p95", "p99", "max"
    );
    for gap in [0, 50, 100, 150] {
        let cfg = PlayerConfig {
            switch_gap: Duration::from_millis(gap),
            ..config
        };
        let o = paused(run_switches(1, SWITCHES, cfg));
        let mut l = o.latencies;
        l.sort();
        println!("{gap:>7} | {:>6} | {}", o.broken, latency_cols(&l));
    }
    println!();
    println!(
        "link delay sweep (seed 1, 10 min loop, default config): how much jitter the lead absorbs"
    );
    println!(
        "{:>12} | {:>4} | {:>10}",
        "max delay ms", "gaps", "max queue"
    );
    for delay in [80, 150, 200, 250, 300, 400] {
        let sim = SimConfig {
            max_delay: Duration::from_millis(delay),
            ..SimConfig::new(1)
        };
        let [a, b] = paused(run_loop_on(sim, MINUTES, config));
        println!(
            "{delay:>12} | {:>4} | {:>10}",
            a.gaps + b.gaps,
            a.max_queue.max(b.max_queue)
        );
    }
    println!();
    println!("wall time {:.1} s", wall.elapsed().as_secs_f64());
}
