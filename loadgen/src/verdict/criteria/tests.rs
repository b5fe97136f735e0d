use std::time::Duration;

use super::parse::Op;
use super::*;
use crate::stats::reference_fixture::reference_snapshot;
use CriterionMetric as M;

#[test]
fn good_expressions_parse_to_their_parts() {
    let cases: &[(&str, CriterionMetric, Op, f64, &str)] = &[
        ("avg < 2000", M::Avg, Op::Lt, 2000.0, "avg < 2000"),
        (
            "p(95) < 5000",
            M::Percentile(95.0),
            Op::Lt,
            5000.0,
            "p(95) < 5000",
        ),
        (
            "p(99.9)<8000",
            M::Percentile(99.9),
            Op::Lt,
            8000.0,
            "p(99.9) < 8000",
        ),
        (
            " p ( 50 ) <= 1e3 ",
            M::Percentile(50.0),
            Op::Le,
            1000.0,
            "p(50) <= 1000",
        ),
        (
            "fail_ratio < 0.05",
            M::FailRatio,
            Op::Lt,
            0.05,
            "fail_ratio < 0.05",
        ),
        (
            "fail_ratio<=.05",
            M::FailRatio,
            Op::Le,
            0.05,
            "fail_ratio <= 0.05",
        ),
        ("rps > 50", M::Rps, Op::Gt, 50.0, "rps > 50"),
        ("max < 10000", M::Max, Op::Lt, 10000.0, "max < 10000"),
        ("count > 100", M::Count, Op::Gt, 100.0, "count > 100"),
        ("count >= 100", M::Count, Op::Ge, 100.0, "count >= 100"),
        ("failures == 0", M::Failures, Op::Eq, 0.0, "failures == 0"),
        ("min != -1.5", M::Min, Op::Ne, -1.5, "min != -1.5"),
        ("med < 300", M::Med, Op::Lt, 300.0, "med < 300"),
        ("fail_rps < 1", M::FailRps, Op::Lt, 1.0, "fail_rps < 1"),
        ("p(0) >= 0", M::Percentile(0.0), Op::Ge, 0.0, "p(0) >= 0"),
        (
            "p(100) < 1",
            M::Percentile(100.0),
            Op::Lt,
            1.0,
            "p(100) < 1",
        ),
    ];
    for &(text, metric, op, threshold, shown) in cases {
        let c = Criterion::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            (c.metric, c.op, c.threshold),
            (metric, op, threshold),
            "{text}"
        );
        assert_eq!(c.to_string(), shown, "{text}");
        // What Display prints parses back to the same criterion.
        assert_eq!(Criterion::parse(&c.to_string()).unwrap(), c, "{text}");
    }
}

#[test]
fn malformed_expressions_are_refused_with_column_and_expectation() {
    let cases: &[(&str, usize, &str, &str)] = &[
        ("", 1, "a metric", "end of expression"),
        ("average < 2000", 1, "a metric", "\"average\""),
        ("avg 2000", 5, "an operator", "\"2000\""),
        ("avg =< 2000", 5, "an operator", "\"=<\""),
        ("avg = 2000", 5, "an operator", "\"=\""),
        ("avg <", 6, "a number", "end of expression"),
        ("avg < 2s", 8, "end of expression", "\"s\""),
        ("avg < 2000 ms", 12, "end of expression", "\"ms\""),
        ("avg < fast", 7, "a number", "\"fast\""),
        ("p95 < 5000", 1, "a metric", "\"p95\""),
        ("p 95 < 5000", 3, "\"(\"", "\"95\""),
        ("p(95 < 5000", 6, "\")\"", "\"<\""),
        ("p() < 5000", 3, "a percentile", "\")\""),
        ("p(101) < 5000", 3, "from 0 to 100", "101"),
        ("p(-1) < 5000", 3, "from 0 to 100", "-1"),
        ("avg < 1e", 8, "a number", "\"e\""),
        ("avg < 1e999", 7, "a number", "\"1e999\""),
        ("avg < 2000 < 3000", 12, "end of expression", "\"<\""),
        ("é < 1", 1, "a metric", "\"é\""),
        ("avg < é", 7, "a number", "\"é\""),
    ];
    for &(text, column, expected, found) in cases {
        let err = Criterion::parse(text).expect_err(text);
        assert_eq!(err.column, column, "{text}: {err}");
        assert!(err.expected.contains(expected), "{text}: {err}");
        assert_eq!(err.found, found, "{text}: {err}");
        assert!(err
            .to_string()
            .starts_with(&format!("column {column}: expected ")));
    }
}

/// `metric OP value` around the row's own exact value: equal passes `<=`/`>=`/`==`,
/// fails `<`/`>`/`!=`; a little more or less flips them.
#[test]
fn every_operator_and_metric_judged_at_and_around_the_measured_value() {
    let snapshot = reference_snapshot();
    let agg = &snapshot.aggregated;
    let metrics = [
        ("avg", agg.avg_response_time_ms()),
        ("min", agg.min_response_time_ms()),
        ("max", agg.max_response_time_ms()),
        ("med", agg.median_response_time_ms()),
        ("p(95)", agg.percentile_ms(0.95).unwrap()),
        ("p(99.9)", agg.percentile_ms(0.999).unwrap()),
        ("count", 521.0),
        ("failures", 49.0),
        ("fail_ratio", 49.0 / 521.0),
        ("rps", agg.total_rps()),
        ("fail_rps", agg.total_fail_per_sec()),
    ];
    for (name, value) in metrics {
        let cases = [
            ("<=", value, true),
            (">=", value, true),
            ("==", value, true),
            ("<", value, false),
            (">", value, false),
            ("!=", value, false),
            ("<", value * 1.01 + 0.001, true),
            (">", value * 1.01 + 0.001, false),
            (">", value * 0.99 - 0.001, true),
        ];
        for (op, threshold, passed) in cases {
            let text = format!("{name} {op} {threshold}");
            let set = CriteriaSet::aggregated(&[&text]).unwrap();
            let verdict = evaluate(&snapshot, &set);
            let result = &verdict.results[0];
            assert_eq!(result.value, Some(value), "{text}");
            assert_eq!(result.passed, passed, "{text}");
        }
    }
}

#[test]
fn rows_are_selected_exactly_by_name_or_aggregated() {
    let snapshot = reference_snapshot();
    let cases = [
        ("Aggregated", 521.0),
        ("POST /api/trading/execute", 235.0),
        ("/api/trading/execute", 235.0),
        ("GET /api/trading/execute", 0.0),
        ("/nowhere", 0.0),
    ];
    for (row, count) in cases {
        let set = CriteriaSet {
            groups: vec![CriteriaGroup {
                row: RowSelector::parse(row),
                criteria: vec![Criterion::parse("count > 0").unwrap()],
                abort_on_fail: false,
                delay: Duration::ZERO,
            }],
        };
        let verdict = evaluate(&snapshot, &set);
        assert_eq!(verdict.results[0].value, Some(count), "{row}");
        assert_eq!(verdict.results[0].row, row, "{row}");
        assert_eq!(verdict.results[0].passed, count > 0.0, "{row}");
    }
    // A row that saw no request cannot pass a latency criterion.
    let set = CriteriaSet {
        groups: vec![CriteriaGroup {
            row: RowSelector::parse("/nowhere"),
            criteria: vec![Criterion::parse("avg < 1000000").unwrap()],
            abort_on_fail: true,
            delay: Duration::ZERO,
        }],
    };
    let verdict = evaluate(&snapshot, &set);
    assert_eq!(
        (verdict.results[0].value, verdict.results[0].passed),
        (None, false)
    );
    assert_eq!(
        verdict.results[0].breach(),
        "/nowhere: avg < 1000000 has no requests to judge"
    );
    // ...but it does not abort the run either.
    assert_eq!(abort_check(&snapshot, &set, Duration::from_secs(60)), None);
}

#[test]
fn outcomes_and_exit_codes() {
    let snapshot = reference_snapshot();
    let judge = |exprs: &[&str]| evaluate(&snapshot, &CriteriaSet::aggregated(exprs).unwrap());
    let passed = judge(&["count > 100", "fail_ratio < 0.5"]);
    let failed = judge(&["count > 100", "fail_ratio < 0.05"]);
    let none = judge(&[]);
    let abort = Abort {
        row: "Aggregated".into(),
        criterion: Criterion::parse("fail_ratio < 0.05").unwrap(),
        value: 0.094,
        elapsed: Duration::from_secs(12),
    };
    let aborted = passed.clone().with_abort(Some(abort));
    assert_eq!(passed.outcome(), Outcome::Passed);
    assert_eq!(failed.outcome(), Outcome::Failed);
    assert_eq!(none.outcome(), Outcome::NoCriteria);
    assert_eq!(aborted.outcome(), Outcome::Aborted);
    // (outcome, any request failed, --exit-code-on-error) -> exit code
    let cases = [
        (Outcome::Passed, true, 3, 0),
        (Outcome::Passed, false, 3, 0),
        (Outcome::Failed, false, 3, 1),
        (Outcome::Failed, true, 3, 1),
        (Outcome::Aborted, false, 3, 1),
        (Outcome::Aborted, true, 0, 1),
        (Outcome::NoCriteria, false, 3, 0),
        (Outcome::NoCriteria, true, 3, 3),
        (Outcome::NoCriteria, true, 1, 1),
        (Outcome::NoCriteria, true, 0, 0),
    ];
    for (outcome, any_failed, on_error, code) in cases {
        assert_eq!(
            exit_code(outcome, any_failed, on_error),
            code,
            "{outcome:?} {any_failed} {on_error}"
        );
    }
}

#[test]
fn breaches_read_like_the_platform_locustfile() {
    let snapshot = reference_snapshot();
    let set = CriteriaSet::aggregated(&[
        "fail_ratio <= 0.05",
        "avg <= 20",
        "p(95) <= 30",
        "rps > 50",
        "p(99.9) < 10",
        "count >= 1000",
    ])
    .unwrap();
    let verdict = evaluate(&snapshot, &set);
    let lines: Vec<String> = verdict.breaches().map(CriterionResult::breach).collect();
    let agg = &snapshot.aggregated;
    assert_eq!(
        lines,
        [
            format!("failure ratio {:.2}% is over 5%", 4900.0 / 521.0),
            format!(
                "average response time {:.0}ms is over 20ms",
                agg.avg_response_time_ms()
            ),
            format!(
                "95th percentile {:.0}ms is over 30ms",
                agg.percentile_ms(0.95).unwrap()
            ),
            format!("requests/s {:.2} is at or under 50", agg.total_rps()),
            format!(
                "99.9th percentile {:.0}ms is at or over 10ms",
                agg.percentile_ms(0.999).unwrap()
            ),
            "request count 521 is under 1000".to_owned(),
        ]
    );
}

#[test]
fn abort_waits_for_its_delay_and_names_the_breach() {
    let snapshot = reference_snapshot();
    let set = CriteriaSet {
        groups: vec![
            CriteriaGroup {
                row: RowSelector::Aggregated,
                criteria: vec![Criterion::parse("fail_ratio < 0.01").unwrap()],
                abort_on_fail: false,
                delay: Duration::ZERO,
            },
            CriteriaGroup {
                row: RowSelector::parse("POST /api/trading/execute"),
                criteria: vec![
                    Criterion::parse("count > 1").unwrap(),
                    Criterion::parse("failures < 10").unwrap(),
                ],
                abort_on_fail: true,
                delay: Duration::from_secs(10),
            },
        ],
    };
    assert!(set.can_abort());
    assert_eq!(abort_check(&snapshot, &set, Duration::from_secs(9)), None);
    let abort = abort_check(&snapshot, &set, Duration::from_secs(10)).unwrap();
    assert_eq!(abort.row, "POST /api/trading/execute");
    assert_eq!(abort.value, 27.0);
    assert_eq!(
        abort.describe(),
        "aborted after 10 s: POST /api/trading/execute: failure count 27 is at or over 10"
    );
    let mut quiet = set.clone();
    quiet.groups[1].abort_on_fail = false;
    assert!(!quiet.can_abort());
    assert_eq!(
        abort_check(&snapshot, &quiet, Duration::from_secs(60)),
        None
    );
}

#[derive(Debug, serde::Deserialize)]
struct File {
    criteria: Vec<RawCriteriaGroup>,
}

/// Line and column (1-based) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

#[test]
fn scenario_tables_are_read_and_errors_point_into_the_file() {
    let text = "[[criteria]]\nthresholds = [\"avg <= 2000\", \"p(95) <= 5000\"]\n\n[[criteria]]\nrow = \"GET /api/clients\"\nthresholds = [\"max < 10000\"]\nabort_on_fail = true\ndelay = \"1m30s\"\n";
    let file: File = toml::from_str(text).unwrap();
    let set = CriteriaSet::from_raw(&file.criteria).unwrap();
    assert_eq!(set.groups.len(), 2);
    assert_eq!(set.groups[0].row, RowSelector::Aggregated);
    assert_eq!(set.groups[0].criteria.len(), 2);
    assert_eq!(
        set.groups[1].row,
        RowSelector::Exact {
            method: "GET".into(),
            name: "/api/clients".into()
        }
    );
    assert_eq!(set.groups[1].delay, Duration::from_secs(90));
    assert!(set.groups[1].abort_on_fail && !set.is_empty());

    // (file, line, column, message part)
    let cases = [
        (
            "[[criteria]]\nthresholds = [\"avg <= 2000\", \"p(95) =< 5000\"]\n",
            2,
            37,
            "expected an operator",
        ),
        (
            "[[criteria]]\nthresholds = [\"avg\"]\n",
            2,
            19,
            "end of expression",
        ),
        (
            "[[criteria]]\nthresholds = [\"avg < 1\"]\nabort_on_fail = true\ndelay = \"soon\"\n",
            4,
            9,
            "bad delay",
        ),
        (
            "[[criteria]]\nthresholds = [\"avg < 1\"]\ndelay = \"10s\"\n",
            3,
            9,
            "abort_on_fail",
        ),
    ];
    for (text, line, column, needle) in cases {
        let file: File = toml::from_str(text).unwrap();
        let err = CriteriaSet::from_raw(&file.criteria).unwrap_err();
        assert_eq!(
            line_col(text, err.span.start),
            (line, column),
            "{text}: {err}"
        );
        assert!(err.message.contains(needle), "{text}: {err}");
    }
    let err = toml::from_str::<File>("[[criteria]]\nthreshold = [\"avg < 1\"]\n").unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}
