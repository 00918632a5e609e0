//! Parsing and validation of the shop configuration.

use std::time::Duration;

use stampede_shop::{LatencyRange, ShopConfig, ShopError};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn latency_parses_ranges_and_fixed_values() {
    let cases = [
        ("20ms..80ms", ms(20), ms(80)),
        ("50ms", ms(50), ms(50)),
        ("1s..2s", ms(1000), ms(2000)),
        (" 5ms .. 5ms ", ms(5), ms(5)),
        ("0ms..1s", ms(0), ms(1000)),
    ];
    for (input, min, max) in cases {
        let range: LatencyRange = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(range, LatencyRange { min, max }, "{input}");
    }
}

#[test]
fn latency_rejects_bad_input_with_exact_messages() {
    for input in [
        "abc",
        "",
        "..",
        "20ms..",
        "..80ms",
        "20..80",
        "20ms..80ms..90ms",
        "-5ms",
    ] {
        let err = input.parse::<LatencyRange>().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "invalid latency `{input}`: expected a duration like 50ms or a range like 20ms..80ms"
            ),
        );
    }
    let err = "80ms..20ms".parse::<LatencyRange>().unwrap_err();
    assert!(matches!(err, ShopError::LatencyMinAboveMax { .. }));
    assert_eq!(
        err.to_string(),
        "invalid latency `80ms..20ms`: min 80ms is greater than max 20ms"
    );
}

#[test]
fn config_validation() {
    assert_eq!(ShopConfig::default().latency, None);
    assert_eq!(ShopConfig::default().error_rate, 0.0);
    assert!(ShopConfig::default().validate().is_ok());
    let bad = ShopConfig {
        latency: None,
        error_rate: 1.5,
        ..Default::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "invalid error rate 1.5: expected a fraction between 0.0 and 1.0"
    );
}
