//! Failure rules: parsing, labels, scaling, and the rate at which `decide` fires them.

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;
use crate::latency::LatencyDistribution;
use crate::profile::Behaviour;

/// Two-sided normal quantile for an error probability of 1e-6.
const Z: f64 = 4.8916;

fn rule(text: &str) -> Result<FailureRule, String> {
    #[derive(Deserialize)]
    struct Wrapper {
        rule: FailureRule,
    }
    toml::from_str::<Wrapper>(&format!("rule = {text}"))
        .map(|w| w.rule)
        .map_err(|e| e.to_string())
}

fn behaviour(failures: &[&str]) -> Behaviour {
    Behaviour {
        latency: LatencyDistribution::Fixed {
            ms: 1.0,
            min_ms: None,
            max_ms: None,
        },
        failures: failures
            .iter()
            .map(|t| rule(t).unwrap_or_else(|e| panic!("{t}: {e}")))
            .collect(),
        cpu_ms: 0.0,
    }
}

#[test]
fn rules_parse_in_both_trigger_forms() {
    assert_eq!(
        rule(r#"{ kind = "status", code = 503, probability = 0.0125 }"#),
        Ok(FailureRule {
            kind: FailureKind::Status {
                code: 503,
                retry_after_ms: None
            },
            trigger: Trigger::Probability(0.0125),
        })
    );
    assert_eq!(
        rule(r#"{ kind = "reset", every = 10 }"#),
        Ok(FailureRule {
            kind: FailureKind::Reset,
            trigger: Trigger::Every(10),
        })
    );
    assert_eq!(
        rule(r#"{ kind = "hang", probability = 1 }"#).map(|r| r.kind.hang_duration()),
        Ok(None),
        "a hang without ms lasts forever"
    );
}

#[test]
fn bad_rules_say_what_was_expected() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#"{ kind = "status", code = 418, probability = 0.1 }"#,
            &["code", "418", "one of 500, 502, 503, 504, 429"],
        ),
        (
            r#"{ kind = "reset", probability = 1.5 }"#,
            &["probability", "1.5", "from 0 to 1"],
        ),
        (
            r#"{ kind = "reset", probability = 0.1, every = 3 }"#,
            &["exactly one of them"],
        ),
        (r#"{ kind = "close" }"#, &["missing trigger", "every = n"]),
        (r#"{ kind = "close", every = 0 }"#, &["every", ">= 1"]),
        (
            r#"{ kind = "close", code = 500, every = 2 }"#,
            &["unknown field `code`", "close"],
        ),
        (
            r#"{ kind = "garbage", bytes = 0, every = 2 }"#,
            &["bytes", "1 to 1048576"],
        ),
        (
            r#"{ kind = "dribble", bytes_per_sec = -1, every = 2 }"#,
            &["bytes_per_sec", "> 0"],
        ),
        (
            r#"{ kind = "hang", ms = -3, every = 2 }"#,
            &["ms", "-3", ">= 0"],
        ),
        (
            r#"{ kind = "teapot", every = 2 }"#,
            &["unknown variant `teapot`"],
        ),
    ];
    for (text, needles) in cases {
        let message = rule(text).expect_err(text);
        for needle in *needles {
            assert!(
                message.contains(needle),
                "{text}: {message:?} does not mention {needle:?}"
            );
        }
    }
    let too_much = [
        rule(r#"{ kind = "reset", probability = 0.6 }"#),
        rule(r#"{ kind = "close", probability = 0.5 }"#),
    ]
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .expect("each rule alone is valid");
    let message = validate_rules(&too_much).expect_err("sum 1.1").to_string();
    assert!(
        message.contains("1.1") && message.contains("at most 1"),
        "{message}"
    );
}

#[test]
fn labels_are_stable() {
    let cases = [
        (
            r#"{ kind = "status", code = 500, every = 1 }"#,
            "status_500",
        ),
        (
            r#"{ kind = "status", code = 502, every = 1 }"#,
            "status_502",
        ),
        (
            r#"{ kind = "status", code = 503, every = 1 }"#,
            "status_503",
        ),
        (
            r#"{ kind = "status", code = 504, every = 1 }"#,
            "status_504",
        ),
        (
            r#"{ kind = "status", code = 429, every = 1 }"#,
            "status_429",
        ),
        (r#"{ kind = "reset", every = 1 }"#, "reset"),
        (r#"{ kind = "close", every = 1 }"#, "close"),
        (r#"{ kind = "garbage", bytes = 8, every = 1 }"#, "garbage"),
        (r#"{ kind = "hang", ms = 5, every = 1 }"#, "hang"),
        (
            r#"{ kind = "dribble", bytes_per_sec = 9, every = 1 }"#,
            "dribble",
        ),
    ];
    for (text, label) in cases {
        assert_eq!(rule(text).map(|r| r.kind.label()), Ok(label), "{text}");
    }
}

#[test]
fn retry_after_defaults_for_429_and_scales() {
    let r429 = rule(r#"{ kind = "status", code = 429, probability = 0.1 }"#).expect("valid");
    assert_eq!(r429.kind.retry_after(), Some(DEFAULT_RETRY_AFTER));
    let r503 = rule(r#"{ kind = "status", code = 503, retry_after_ms = 4000, every = 2 }"#)
        .expect("valid");
    assert_eq!(r503.kind.retry_after(), Some(Duration::from_secs(4)));
    assert_eq!(
        r503.scaled(0.5).kind.retry_after(),
        Some(Duration::from_secs(2))
    );
    let hang = rule(r#"{ kind = "hang", ms = 3000, every = 2 }"#).expect("valid");
    assert_eq!(
        hang.scaled(0.1).kind.hang_duration(),
        Some(Duration::from_millis(300))
    );
    let dribble = FailureKind::Dribble {
        bytes_per_sec: 100.0,
    };
    assert_eq!(
        dribble.scaled(2.0),
        FailureKind::Dribble {
            bytes_per_sec: 50.0
        },
        "twice the time: half the rate"
    );
}

#[test]
fn every_n_fails_exactly_one_in_n() {
    let b = behaviour(&[r#"{ kind = "reset", every = 7 }"#]);
    let mut rng = SmallRng::seed_from_u64(1);
    let failed: Vec<u64> = (0..700)
        .filter(|&seq| b.decide(&mut rng, seq).failure.is_some())
        .collect();
    assert_eq!(failed.len(), 100);
    assert!(failed.iter().all(|seq| seq % 7 == 6), "{failed:?}");
    let every_one = behaviour(&[r#"{ kind = "close", every = 1 }"#]);
    assert!((0..50).all(|seq| every_one.decide(&mut rng, seq).failure.is_some()));
}

#[test]
fn probability_rules_fire_at_their_own_rates_and_never_together() {
    let b = behaviour(&[
        r#"{ kind = "status", code = 503, probability = 0.0125 }"#,
        r#"{ kind = "status", code = 500, probability = 0.10 }"#,
        r#"{ kind = "reset", every = 50 }"#,
    ]);
    let n: u64 = 200_000;
    let mut rng = SmallRng::seed_from_u64(42);
    let (mut c503, mut c500, mut resets) = (0u64, 0u64, 0u64);
    for seq in 0..n {
        match b.decide(&mut rng, seq).failure.map(|f| f.label()) {
            Some("status_503") => c503 += 1,
            Some("status_500") => c500 += 1,
            Some("reset") => resets += 1,
            Some(other) => panic!("unexpected {other}"),
            None => {}
        }
    }
    // The every-50 rule is last, so it fires only when neither probability rule did.
    let every_slots = n / 50;
    let check = |count: u64, p: f64, what: &str| {
        let nf = n as f64;
        let tol = Z * (nf * p * (1.0 - p)).sqrt();
        assert!(
            (count as f64 - nf * p).abs() <= tol,
            "{what}: {count} of {n}, expected {} +/- {tol}",
            nf * p
        );
    };
    check(c503, 0.0125, "503 at 1.25%");
    check(c500, 0.10, "500 at 10%");
    assert!(resets <= every_slots);
    let missed = (every_slots - resets) as f64;
    let p_prob = 0.1125;
    let tol = Z * (every_slots as f64 * p_prob * (1.0 - p_prob)).sqrt();
    assert!(
        (missed - every_slots as f64 * p_prob).abs() <= tol,
        "every-50 slots taken by earlier rules: {missed}"
    );
}

#[test]
fn rules_round_trip_through_toml() {
    let texts = [
        r#"{ kind = "status", code = 429, retry_after_ms = 1500, probability = 0.25 }"#,
        r#"{ kind = "garbage", bytes = 64, every = 3 }"#,
        r#"{ kind = "hang", probability = 0.5 }"#,
        r#"{ kind = "dribble", bytes_per_sec = 1000, every = 9 }"#,
    ];
    #[derive(Serialize, Deserialize)]
    struct Wrapper {
        rule: FailureRule,
    }
    for text in texts {
        let r = rule(text).expect(text);
        let out = toml::to_string(&Wrapper { rule: r.clone() }).expect("serializes");
        let back: Wrapper = toml::from_str(&out).expect("parses back");
        assert_eq!(back.rule, r, "{out}");
    }
}
