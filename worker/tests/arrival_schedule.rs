//! The open model's schedule on one engine in paused tokio time: iterations
//! start exactly when due, users are reused once idle, and iterations that
//! find every user busy are dropped and counted. The scenario only sleeps, so
//! the clock is all there is.

use std::sync::Arc;
use std::time::Duration;

use stampede_common::run::{ArrivalShare, Assignment, RunSettings};
use stampede_common::scenario::ScenarioSource;
use stampede_common::shape::ArrivalShape;
use stampede_worker::Engine;

fn engine(sleep: &str) -> Engine {
    let yaml = format!("users:\n  - name: Sleeper\n    sequence:\n      - sleep: {sleep}\n");
    let scenario = ScenarioSource::from_text("sleep.yaml", &yaml)
        .compile()
        .unwrap();
    // Never contacted: the scenario sends no request.
    let settings = RunSettings::new("http://127.0.0.1:9".parse().unwrap());
    Engine::start(Arc::new(scenario), &settings, tracing::Span::none()).unwrap()
}

fn share(shape: ArrivalShape, max_users: u64, elapsed: Duration) -> ArrivalShare {
    ArrivalShare {
        elapsed,
        shape,
        max_users,
        first_index: 0,
        classes: vec![(0, 1)],
    }
}

#[tokio::test(start_paused = true)]
async fn busy_users_drop_iterations_and_idle_ones_take_the_next() {
    let e = engine("995ms");
    // 100/s for 2 s: due at 0, 10, ..., 1990 ms. Each takes 995 ms, so 50
    // users cover the first half of each second and the second half is
    // dropped; from 1 s on, each user is idle 5 ms before its next one is due.
    let shape = ArrivalShape::constant("100/s".parse().unwrap(), Duration::from_secs(2)).unwrap();
    e.assign(Assignment::Arrival(share(shape, 50, Duration::ZERO)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(995)).await;
    assert_eq!(e.users(), 50);
    let first = e.take_stats();
    assert_eq!(first.iterations, 0, "none has finished at 995 ms");
    assert_eq!(first.dropped_iterations, 50);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rest = e.take_stats();
    assert_eq!((rest.iterations, rest.dropped_iterations), (100, 50));
    assert_eq!(e.users(), 50, "users stay for the next share");
    e.stop_all().await.unwrap();
    assert_eq!(e.users(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_ramp_and_a_share_taken_over_mid_shape() {
    let e = engine("1ms");
    // 0 -> 20/s over 10 s, then 20/s for 10 s: 100 + 200 iterations in all.
    let shape: ArrivalShape = "10s:20/s,10s:20/s".parse().unwrap();
    e.assign(Assignment::Arrival(share(
        shape.clone(),
        100,
        Duration::ZERO,
    )))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    // t²/2 * 20/10 by 5 s: 25 (due at 0, ..., the 25th a hair before 5 s).
    let by5 = e.take_stats().iterations;
    assert!((24..=25).contains(&by5), "{by5}");
    // The master re-splits at 5 s: this worker now has half the rate.
    let half = shape.split(2).remove(0);
    e.assign(Assignment::Arrival(share(half, 50, Duration::from_secs(5))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let after = e.take_stats().iterations;
    // Half of what the whole shape holds after 5 s: (300 - 25) / 2.
    assert!((136..=139).contains(&after), "{after}");
    e.stop_all().await.unwrap();
}
