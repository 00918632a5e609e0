//! Schedule arithmetic of the open model: rates, ramps, stage edges, the
//! time of the k-th iteration, and exact splits with remainders.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn shape(text: &str) -> ArrivalShape {
    text.parse().unwrap()
}

#[test]
fn rates_parse_in_any_unit() {
    let r = |t: &str| t.parse::<Rate>().map(Rate::milli);
    assert_eq!(r("500/s"), Ok(500_000));
    assert_eq!(r("500"), Ok(500_000));
    assert_eq!(r("30/m"), Ok(500));
    assert_eq!(r("0.5/s"), Ok(500));
    assert_eq!(r("36/h"), Ok(10));
    assert_eq!(r("10/100ms"), Ok(100_000));
    assert_eq!(r("0/s"), Ok(0));
    for bad in ["", "fast", "-1/s", "5/fortnight", "1/0s", "nan/s"] {
        let e = bad.parse::<Rate>().unwrap_err();
        assert!(e.starts_with(&format!("invalid rate `{bad}`")), "{e}");
    }
    assert_eq!(Rate::from_milli(500_000).to_string(), "500/s");
    assert_eq!(Rate::from_milli(500).to_string(), "0.5/s");
}

#[test]
fn constant_rate_starts_iteration_k_at_k_over_rate() {
    let s = ArrivalShape::constant("2000/s".parse().unwrap(), secs(20.0)).unwrap();
    assert_eq!(s.time_of(0), Some(Duration::ZERO));
    assert_eq!(s.time_of(1), Some(Duration::from_micros(500)));
    assert_eq!(s.time_of(39_999), Some(secs(19.9995)));
    assert_eq!(
        s.time_of(40_000),
        None,
        "the shape ends before the 40,001st"
    );
    assert_eq!(s.iterations_by(secs(20.0)), 40_000.0);
    assert_eq!(s.rate_at(secs(19.9)), Some(2000.0));
    assert_eq!(s.rate_at(secs(20.0)), None);
    assert_eq!(s.total(), secs(20.0));
}

#[test]
fn ramps_follow_the_integral() {
    // 0 -> 10/s over 10 s: iterations_by(t) = t²/2, so iteration k is at sqrt(2k).
    let s = shape("10s:10/s,10s:10/s,10s:0/s");
    for k in [1u64, 2, 8, 18, 32, 49] {
        let t = s.time_of(k).unwrap().as_secs_f64();
        assert!((t - (2.0 * k as f64).sqrt()).abs() < 1e-6, "k={k} t={t}");
    }
    // The ramp holds 50, the plateau 100 more, the ramp down 50.
    assert!((s.iterations_by(secs(10.0)) - 50.0).abs() < 1e-9);
    assert!((s.iterations_by(secs(20.0)) - 150.0).abs() < 1e-9);
    assert!((s.iterations_by(secs(30.0)) - 200.0).abs() < 1e-9);
    assert_eq!(s.time_of(50), Some(secs(10.0)));
    assert_eq!(s.time_of(60), Some(secs(11.0)));
    // Ramp down: 150 + 10t - t²/2 = 168 -> t = 2 (of 10 - sqrt(100 - 36)).
    let t = s.time_of(168).unwrap().as_secs_f64();
    assert!((t - 22.0).abs() < 1e-6, "{t}");
    assert_eq!(s.time_of(200), None);
    assert_eq!(s.rate_at(secs(5.0)), Some(5.0));
    assert_eq!(s.rate_at(secs(25.0)), Some(5.0));
    assert_eq!(s.peak(), Rate::from_milli(10_000));
}

#[test]
fn stage_edges_and_zero_rate_stages() {
    // A pause at rate 0 between two plateaus: nothing is due inside it.
    let s = ArrivalShape::new(
        "1/s".parse().unwrap(),
        vec![
            RateStage {
                duration: secs(3.0),
                target: "1/s".parse().unwrap(),
            },
            RateStage {
                duration: secs(0.001),
                target: Rate::default(),
            },
            RateStage {
                duration: secs(5.0),
                target: Rate::default(),
            },
            RateStage {
                duration: secs(0.001),
                target: "1/s".parse().unwrap(),
            },
            RateStage {
                duration: secs(2.0),
                target: "1/s".parse().unwrap(),
            },
        ],
    )
    .unwrap();
    let times: Vec<f64> = (0..6)
        .map_while(|k| s.time_of(k))
        .map(|t| (t.as_secs_f64() * 1000.0).round() / 1000.0)
        .collect();
    assert_eq!(times, vec![0.0, 1.0, 2.0, 3.0, 9.001, 10.001]);
    assert_eq!(s.first_at_or_after(secs(2.5)), 3);
    assert_eq!(s.first_at_or_after(secs(2.0)), 2);
    assert_eq!(s.first_at_or_after(Duration::ZERO), 0);
}

#[test]
fn bad_arrival_stages_say_why() {
    let e = |t: &str| t.parse::<ArrivalShape>().unwrap_err();
    assert_eq!(e(""), "invalid arrival stages ``: no stage");
    assert_eq!(
        e("1m"),
        "invalid arrival stages `1m`: `1m` is not DURATION:RATE, e.g. 1m:500/s"
    );
    assert!(
        e("1m:lots").contains("invalid rate `lots`"),
        "{}",
        e("1m:lots")
    );
    assert_eq!(
        e("0s:10/s"),
        "invalid arrival stages `0s:10/s`: a stage lasts zero time"
    );
}

#[test]
fn splits_over_workers_keep_the_sum_with_remainders() {
    let s = shape("10s:1000/s,1m:7/s");
    for n in 1..=7 {
        let parts = s.split(n);
        assert_eq!(parts.len(), n);
        let sum_start: u64 = parts.iter().map(|p| p.start().milli()).sum();
        assert_eq!(sum_start, 0);
        for (i, stage) in s.stages().iter().enumerate() {
            let got: Vec<u64> = parts.iter().map(|p| p.stages()[i].target.milli()).collect();
            assert_eq!(got.iter().sum::<u64>(), stage.target.milli(), "n={n}");
            assert!(
                got.iter().max().unwrap() - got.iter().min().unwrap() <= 1,
                "{got:?}"
            );
            // Remainders go to the first workers.
            assert!(got.windows(2).all(|w| w[0] >= w[1]), "{got:?}");
        }
    }
    assert_eq!(split_units(7, &[1, 1, 1]), vec![3, 2, 2]);
    assert_eq!(split_units(10, &[3, 1]), vec![8, 2]);
    assert_eq!(split_units(1, &[1, 3]), vec![0, 1]);
    assert_eq!(split_units(5, &[0, 0]), vec![3, 2]);
    assert_eq!(split_units(5, &[2, 0]), vec![5, 0]);
    assert!(split_units(5, &[]).is_empty());
}

proptest! {
    /// The parts' rates add up to the shape's at every moment, so the parts'
    /// schedules together start as many iterations as the whole (each part
    /// loses less than one to rounding).
    #[test]
    fn split_parts_add_up(
        rates in prop::collection::vec(0u64..5_000_000, 1..5),
        n in 1usize..9,
        at in 0.0f64..40.0,
    ) {
        let stages = rates.iter().map(|r| RateStage { duration: secs(10.0), target: Rate::from_milli(*r) }).collect();
        let s = ArrivalShape::new(Rate::from_milli(1000), stages).unwrap();
        let parts = s.split(n);
        let t = secs(at);
        let whole = s.iterations_by(t);
        let sum: f64 = parts.iter().map(|p| p.iterations_by(t)).sum();
        prop_assert!((whole - sum).abs() < 1e-6 * whole.max(1.0));
        let whole_n = s.first_at_or_after(t);
        let parts_n: u64 = parts.iter().map(|p| p.first_at_or_after(t)).sum();
        prop_assert!(parts_n <= whole_n + n as u64 && whole_n <= parts_n + n as u64);
        if let Some(r) = s.rate_at(t) {
            let pr: f64 = parts.iter().map(|p| p.rate_at(t).unwrap()).sum();
            prop_assert!((r - pr).abs() < 1e-6 * r.max(1.0));
        }
    }

    /// `time_of` inverts `iterations_by`.
    #[test]
    fn time_of_inverts_the_integral(
        rates in prop::collection::vec(1u64..2_000_000, 1..4),
        k in 0u64..5_000,
    ) {
        let stages = rates.iter().map(|r| RateStage { duration: secs(3.0), target: Rate::from_milli(*r) }).collect();
        let s = ArrivalShape::new(Rate::from_milli(500), stages).unwrap();
        if let Some(t) = s.time_of(k) {
            let back = s.iterations_by(t);
            prop_assert!((back - k as f64).abs() < 1e-3, "k={} back={}", k, back);
        } else {
            prop_assert!(s.iterations_by(s.total()) <= k as f64 + 1e-6);
        }
    }
}
