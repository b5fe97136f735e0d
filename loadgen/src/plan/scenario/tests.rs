use rand::{rngs::SmallRng, SeedableRng};

use super::*;

fn err(text: &str) -> (usize, usize, String) {
    match Scenario::from_toml("bad.toml", text) {
        Err(ScenarioError::Invalid {
            line,
            column,
            message,
            file,
        }) => {
            assert_eq!(file, "bad.toml");
            (line, column, message)
        }
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

const MINIMAL: &str = r#"
[classes.A]
wait = { constant = 1 }
[[classes.A.tasks]]
name = "t"
requests = [{ method = "GET", path = "/x" }]
"#;

#[test]
fn builtins_load_with_the_platform_profile() {
    let acis = Scenario::builtin("acis").expect("acis compiles");
    assert_eq!(
        acis.class_names(),
        ["ACISAPIUser", "ACISBackgroundJobUser", "ACISStressTestUser"]
    );
    let api = &acis.classes[0];
    let weights: Vec<u32> = api.tasks.iter().map(|t| t.weight).collect();
    assert_eq!(weights, [5, 3, 2, 4, 2, 1, 3, 2, 1]);
    assert_eq!(
        api.wait,
        WaitTime::Between {
            min: Duration::from_secs(1),
            max: Duration::from_secs(5)
        }
    );
    assert_eq!(api.headers.len(), 2);
    let stress = &acis.classes[2];
    assert_eq!(stress.tasks[2].requests[0].repeat, 5);
    let guide = Scenario::builtin("guide").expect("guide compiles");
    let weights: Vec<u32> = guide.classes[0].tasks.iter().map(|t| t.weight).collect();
    assert_eq!(weights, [5, 4, 1]);
    for (name, _) in BUILTIN {
        assert!(Scenario::builtin(name).is_some(), "{name}");
    }
}

#[test]
fn trade_body_is_valid_json_with_numbers() {
    let acis = Scenario::builtin("acis").unwrap();
    let trade = &acis.classes[0].tasks[5].requests[0];
    let mut rng = SmallRng::seed_from_u64(5);
    let body = trade.body.as_ref().unwrap().render(&mut rng);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["client_id"].is_i64() && v["quantity"].is_i64(), "{body}");
    assert!(v["ticker"].is_string() && v["side"].is_string(), "{body}");
    assert_eq!(v["order_type"], "market");
}

#[test]
fn unknown_field_is_refused_with_position() {
    let (line, column, message) = err(&MINIMAL.replace("wait =", "wiat ="));
    assert_eq!((line, column), (3, 1), "{message}");
    assert!(message.contains("wiat"), "{message}");
}

#[test]
fn bad_weights_are_refused() {
    let (line, column, m) = err(&MINIMAL.replace("[classes.A]\n", "[classes.A]\nweight = -2\n"));
    assert_eq!((line, column), (3, 10), "{m}");
    assert!(m.contains("above 0"), "{m}");
    let (line, _, m) = err(&MINIMAL.replace("name = \"t\"", "name = \"t\"\nweight = 0"));
    assert_eq!(line, 6, "{m}");
    assert!(m.contains("1 or more"), "{m}");
    let (_, _, m) = err(&MINIMAL.replace(
        "[classes.A]\n",
        "[classes.A]\nweight = 1\nfixed_count = 2\n",
    ));
    assert!(m.contains("both weight and fixed_count"), "{m}");
}

#[test]
fn malformed_template_points_inside_the_string() {
    let text = MINIMAL.replace("path = \"/x\"", "path = \"/x/{1..}\"");
    let (line, column, m) = err(&text);
    let line_text = text.lines().nth(line - 1).unwrap();
    assert_eq!(&line_text[column - 1..column], "{", "{m}");
    assert!(m.contains("integer range"), "{m}");
    let text = MINIMAL.replace(
        "path = \"/x\"",
        "path = \"/x\", body = { a = 1, b = \"{nope}\" }",
    );
    let (line, column, m) = err(&text);
    let line_text = text.lines().nth(line - 1).unwrap();
    assert_eq!(&line_text[column - 1..column + 5], "{nope}", "{m}");
}

#[test]
fn bad_wait_and_method_are_refused() {
    let (_, _, m) = err(&MINIMAL.replace("{ constant = 1 }", "{ between = [5, 1] }"));
    assert!(m.contains("lower bound first"), "{m}");
    let (_, _, m) = err(&MINIMAL.replace("{ constant = 1 }", "{ sometimes = 1 }"));
    assert!(m.contains("between"), "{m}");
    let (_, _, m) = err(&MINIMAL.replace("\"GET\"", "\"FETCH\""));
    assert!(m.contains("expected GET"), "{m}");
    let (_, _, m) = err(&MINIMAL.replace("\"/x\"", "\"x\""));
    assert!(m.contains("starting with '/'"), "{m}");
}

#[test]
fn select_keeps_named_classes_and_refuses_unknown() {
    let acis = Scenario::builtin("acis").unwrap();
    let only = acis
        .clone()
        .select(&["ACISStressTestUser".to_owned()])
        .unwrap();
    assert_eq!(only.class_names(), ["ACISStressTestUser"]);
    let e = acis.select(&["Nobody".to_owned()]).unwrap_err().to_string();
    assert!(
        e.contains("Nobody")
            && e.contains("ACISAPIUser, ACISBackgroundJobUser, ACISStressTestUser"),
        "{e}"
    );
}

#[test]
fn pick_task_follows_cumulative_weights() {
    let acis = Scenario::builtin("guide").unwrap();
    let class = &acis.classes[0];
    // Weights 5, 4, 1: draws 0..5 pick task 0, 5..9 task 1, 9 task 2; every index is reachable.
    let mut rng = SmallRng::seed_from_u64(9);
    let mut counts = [0u32; 3];
    for _ in 0..1000 {
        counts[class.pick_task(&mut rng)] += 1;
    }
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    assert_eq!(class.total_task_weight(), 10);
    // A class edited after it was built picks among the tasks it has now.
    let mut trades_only = (**class).clone();
    trades_only.tasks.retain(|t| t.name == "execute_trade");
    assert_eq!(trades_only.total_task_weight(), 1);
    assert!((0..100).all(|_| trades_only.pick_task(&mut rng) == 0));
}

#[test]
fn waits_follow_their_definitions_and_scale() {
    let mut rng = SmallRng::seed_from_u64(1);
    let b = WaitTime::Between {
        min: Duration::from_secs(1),
        max: Duration::from_secs(2),
    };
    for _ in 0..100 {
        let w = b.next(&mut rng, Duration::ZERO);
        assert!(w >= Duration::from_secs(1) && w <= Duration::from_secs(2));
    }
    let pacing = WaitTime::ConstantPacing(Duration::from_secs(3));
    assert_eq!(
        pacing.next(&mut rng, Duration::from_secs(1)),
        Duration::from_secs(2)
    );
    assert_eq!(
        pacing.next(&mut rng, Duration::from_secs(4)),
        Duration::ZERO
    );
    let tp = WaitTime::ConstantThroughput(0.5);
    assert_eq!(
        tp.next(&mut rng, Duration::from_millis(500)),
        Duration::from_millis(1500)
    );
    assert_eq!(
        b.scaled(0.5),
        WaitTime::Between {
            min: Duration::from_millis(500),
            max: Duration::from_secs(1)
        }
    );
    assert_eq!(tp.scaled(0.5), WaitTime::ConstantThroughput(1.0));
}

#[test]
fn listing_shows_classes_tasks_and_ratios() {
    let text = Scenario::builtin("guide").unwrap().listing();
    assert!(text.contains("GuideUser"), "{text}");
    assert!(
        text.contains("get_clients") && text.contains("50.0%"),
        "{text}"
    );
    assert!(text.contains("between(1, 5)"), "{text}");
}

#[test]
fn the_documented_example_parses() {
    // The example in raw.rs's module documentation, without its comments.
    let text = r#"
description = "..."
[classes.ACISAPIUser]
weight = 1
wait = { between = [1, 5] }
headers = { Accept = "application/json" }
[[classes.ACISAPIUser.tasks]]
name = "get_client"
weight = 3
requests = [
  { method = "GET", path = "/api/clients/{1..10}", name = "/api/clients/[id]" },
]
"#;
    let s = Scenario::from_toml("doc.toml", text).unwrap();
    assert_eq!(
        s.classes[0].tasks[0].requests[0].name.as_deref(),
        Some("/api/clients/[id]")
    );
    for wait in [
        "{ constant = 2 }",
        "{ constant_pacing = 3 }",
        "{ constant_throughput = 0.5 }",
    ] {
        let t = text.replace("{ between = [1, 5] }", wait);
        assert!(Scenario::from_toml("doc.toml", &t).is_ok(), "{wait}");
    }
}

#[test]
fn acis_carries_the_platform_criteria_and_guide_none() {
    let acis = Scenario::builtin("acis").unwrap();
    let texts: Vec<String> = acis.criteria.groups[0]
        .criteria
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        texts,
        ["fail_ratio <= 0.05", "avg <= 2000", "p(95) <= 5000"]
    );
    assert_eq!(
        acis.criteria.groups[0].row,
        crate::verdict::criteria::RowSelector::Aggregated
    );
    let guide = Scenario::builtin("guide").unwrap();
    assert!(guide.criteria.is_empty());
    assert_eq!(
        guide.baselines,
        crate::verdict::baseline::Baselines::default()
    );
}

#[test]
fn criteria_and_baselines_are_validated_at_load_with_their_position() {
    let ok = format!(
        "{MINIMAL}[[criteria]]\nrow = \"GET /x\"\nthresholds = [\"p(99) < 800\"]\nabort_on_fail = true\ndelay = \"10s\"\n\n[baselines]\nrps = {{ target = 10, acceptable = 5, poor = 1 }}\n"
    );
    let s = Scenario::from_toml("ok.toml", &ok).unwrap();
    assert!(s.criteria.can_abort());
    assert_eq!(s.baselines.rps.poor, 1.0);
    // (text after MINIMAL, line, column, message part); MINIMAL ends on line 6, so the tail starts on line 7.
    let cases = [
        (
            "[[criteria]]\nthresholds = [\"p(95) =< 5\"]\n",
            8,
            22,
            "expected an operator",
        ),
        (
            "[[criteria]]\nthresholds = [\"avg\"]\n",
            8,
            19,
            "end of expression",
        ),
        (
            "[[criteria]]\nthreshold = [\"avg < 1\"]\n",
            8,
            1,
            "unknown field",
        ),
        (
            "[baselines]\navg_ms = { target = 900, acceptable = 800, poor = 2000 }\n",
            7,
            1,
            "baselines.avg_ms",
        ),
        ("[baselines]\np50_ms = 3\n", 8, 1, "unknown field"),
    ];
    for (tail, line, column, needle) in cases {
        let (l, c, message) = err(&format!("{MINIMAL}{tail}"));
        assert_eq!((l, c), (line, column), "{tail}: {message}");
        assert!(message.contains(needle), "{tail}: {message}");
    }
}

#[test]
fn a_form_request_is_urlencoded_with_its_content_type() {
    let text = MINIMAL.replace(
        r#"requests = [{ method = "GET", path = "/x" }]"#,
        r#"requests = [{ method = "POST", path = "/login", form = { user = "u {1..1}", pw = "a&b" } }]"#,
    );
    let s = Scenario::from_toml("form.toml", &text).unwrap();
    let r = &s.classes[0].tasks[0].requests[0];
    let body = r
        .body
        .as_ref()
        .unwrap()
        .render(&mut SmallRng::seed_from_u64(1));
    assert_eq!(body, "pw=a%26b&user=u+1");
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == http::header::CONTENT_TYPE && v == "application/x-www-form-urlencoded"));
    let both = text.replace("form = {", "body = { a = 1 }, form = {");
    let (_, _, m) = err(&both);
    assert!(m.contains("both body and form"), "{m}");
}
