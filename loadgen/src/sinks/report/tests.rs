use std::time::SystemTime;

use super::*;
use crate::engine::sink::OutputConfig;
use crate::sinks::json::JsonReport;
use crate::stats::fixture::guide_snapshot;
use crate::stats::{reference_fixture::reference_snapshot, Snapshot};
use crate::verdict::analysis::analyse;
use crate::verdict::baseline::{evaluate as bands, Baselines};
use crate::verdict::criteria::{self, CriteriaSet, Outcome};
use crate::verdict::judge::{trade_abort_criteria, AbortWatch, Judgement};

fn settings() -> RunSettings {
    RunSettings {
        scenario: "guide".into(),
        classes: vec!["GuideUser".into()],
        users: 50,
        rate: 5.0,
        duration: Some(60.0),
        seed: 7,
        version: "0.1.0".into(),
        host: "http://127.0.0.1:8000".into(),
        task_ratio: crate::plan::scenario::Scenario::builtin("guide")
            .unwrap()
            .task_ratios(50),
    }
}

/// The platform's criteria, as the acis scenario carries them.
fn platform() -> CriteriaSet {
    CriteriaSet::aggregated(&["fail_ratio <= 0.05", "avg <= 2000", "p(95) <= 5000"]).unwrap()
}

/// The three reports of a snapshot judged with `set` and the guide's baselines.
fn reports(snapshot: &Snapshot, set: &CriteriaSet) -> (String, String, String) {
    let verdict = criteria::evaluate(snapshot, set);
    let report = bands(snapshot, &Baselines::default());
    let analysis = analyse(snapshot, &Baselines::default());
    let settings = settings();
    let inputs = Inputs {
        snapshot,
        settings: &settings,
        verdict: &verdict,
        baselines: &report,
        analysis: &analysis,
        stages: &[],
        overhead_share: crate::sinks::overhead::DEFAULT_OVERHEAD_SHARE,
    };
    (html(&inputs), junit(&inputs), markdown(&inputs))
}

/// The attribute values of `name` in `text`.
fn attributes<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let needle = format!("{name}=\"");
    text.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &text[at + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// For each `<tr data-row=...>` of the table with `id`: the row's label and its cells'
/// exact values.
fn table_rows(page: &str, id: &str) -> Vec<(String, Vec<f64>)> {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let table = &page[start..start + page[start..].find("</table>").unwrap()];
    table
        .split("<tr")
        .filter(|tr| tr.contains("data-row="))
        .map(|tr| {
            let label = attributes(tr, "data-row")[0].replace("&amp;", "&");
            let values = attributes(tr, "data-v")
                .iter()
                .map(|v| v.parse::<f64>().unwrap())
                .collect();
            (label, values)
        })
        .collect()
}

#[test]
fn html_opens_offline_with_no_external_reference() {
    for snapshot in [guide_snapshot(), reference_snapshot()] {
        let (page, _, _) = reports(&snapshot, &platform());
        let lower = page.to_lowercase();
        // Links only to the page's own sections (the table of contents).
        let hrefs = attributes(&lower, "href");
        assert_eq!(hrefs.len(), super::html::SECTIONS.len());
        assert!(hrefs.iter().all(|h| h.starts_with('#')), "{hrefs:?}");
        for attr in ["src", "xlink:href", "action", "srcset", "poster", "data"] {
            assert!(attributes(&lower, attr).is_empty(), "{attr}= present");
        }
        for banned in [
            "<script",
            "<link",
            "<iframe",
            "<img",
            "@import",
            "@font-face",
            "<object",
            "<embed",
        ] {
            assert!(!lower.contains(banned), "{banned} present");
        }
        // A url(...) may only point inside the page (#id).
        for (at, _) in lower.match_indices("url(") {
            let rest = lower[at + 4..].trim_start_matches(['"', '\'', ' ']);
            assert!(
                rest.starts_with('#'),
                "url( pointing outside: {}",
                &rest[..20.min(rest.len())]
            );
        }
        // The only URLs are SVG namespace declarations, which are never fetched, and
        // the target host named as text (the heading and the settings).
        let urls = lower.matches("http://").count() + lower.matches("https://").count();
        let host = settings().host;
        assert_eq!(lower.matches(&format!(">{host}<")).count(), 1);
        assert_eq!(lower.matches(&format!("against {host}")).count(), 1);
        assert_eq!(
            urls,
            lower
                .matches("xmlns=\"http://www.w3.org/2000/svg\"")
                .count()
                + 2
        );
        assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
        assert!(page.contains("name=\"viewport\"") && page.contains("@media print"));
    }
}

#[test]
fn html_has_exactly_one_svg_per_chart() {
    for snapshot in [
        guide_snapshot(),
        reference_snapshot(),
        Snapshot::empty(SystemTime::UNIX_EPOCH),
    ] {
        let (page, _, _) = reports(&snapshot, &platform());
        // Four over-time charts, then one spectrum per row and one for Aggregated.
        let charts = 4 + snapshot.rows.len() + 1;
        let figures: Vec<&str> = page.split("<figure class=\"chart\"").skip(1).collect();
        assert_eq!(figures.len(), charts);
        for figure in figures {
            let figure = &figure[..figure.find("</figure>").unwrap()];
            assert_eq!(
                figure.matches("<svg").count(),
                1,
                "{}",
                &figure[..80.min(figure.len())]
            );
            assert_eq!(figure.matches("</svg>").count(), 1);
        }
        assert_eq!(page.matches("<svg").count(), charts);
    }
}

#[test]
fn html_tables_hold_the_same_numbers_as_the_json() {
    for snapshot in [guide_snapshot(), reference_snapshot()] {
        let (page, _, _) = reports(&snapshot, &platform());
        let doc = serde_json::to_value(JsonReport::new(&snapshot, &settings())).unwrap();
        let json_rows: Vec<&serde_json::Value> = doc["stats"]
            .as_array()
            .unwrap()
            .iter()
            .chain([&doc["aggregated"]])
            .collect();
        let f = |v: &serde_json::Value| v.as_f64().unwrap();
        let requests = table_rows(&page, "requests-table");
        let percentiles = table_rows(&page, "percentiles-table");
        assert_eq!(requests.len(), json_rows.len());
        assert_eq!(percentiles.len(), json_rows.len());
        for ((j, (label, req)), (plabel, pct)) in json_rows.iter().zip(&requests).zip(&percentiles)
        {
            let want_label = crate::verdict::baseline::row_label(
                j["method"].as_str().unwrap(),
                j["name"].as_str().unwrap(),
            );
            assert_eq!((label, plabel), (&want_label, &want_label));
            let want: Vec<f64> = [
                "num_requests",
                "num_failures",
                "avg_response_time",
                "min_response_time",
                "max_response_time",
                "median_response_time",
                "total_rps",
                "total_fail_per_sec",
                "fail_ratio",
            ]
            .iter()
            .map(|k| f(&j[k]))
            .collect();
            assert_eq!(req, &want, "{label}");
            // 50% and 100% are the request table's median and maximum; the others are
            // the JSON's percentiles.
            let mut want: Vec<f64> = j["response_time_percentiles"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !["0.5", "1.0", "1"].contains(&k.as_str()))
                .map(|(_, v)| f(v))
                .collect();
            want.sort_by(f64::total_cmp);
            let mut got = pct[1..10].to_vec();
            got.sort_by(f64::total_cmp);
            assert_eq!(got, want, "{label}");
            assert_eq!(pct[0], f(&j["median_response_time"]), "{label}");
            assert_eq!(pct[10], f(&j["max_response_time"]), "{label}");
            assert_eq!(pct[11], f(&j["num_requests"]));
        }
    }
}

#[test]
fn html_shows_verdict_settings_criteria_bands_analysis_and_failures() {
    let snapshot = guide_snapshot();
    let (page, _, _) = reports(&snapshot, &platform());
    for needle in [
        "<div class=\"verdict passed\">PASSED</div>",
        "<th>User classes</th><td>GuideUser</td>",
        "<code>fail_ratio &lt;= 0.05</code>",
        "<td class=\"num band-poor\" data-v=\"10\">10.00%<span class=\"band\">poor</span></td>",
        "<td class=\"num band-target\" data-v=\"0\">0%<span class=\"band\">target</span></td>",
        "POST /api/trading/execute has issues (10.00% failures) - investigate",
        "GET /api/ml/predict is mostly stable (1.25% failures)",
        "GET /api/clients is fast (250 ms avg)",
        "<strong>High Error Rate</strong>: error rate 10.00% is over 5%",
        "<li>Increase connection pool size</li>",
        "HTTPError('500 Server Error for url: /api/trading/execute')",
    ] {
        assert!(page.contains(needle), "missing {needle}");
    }
    let failures = page.split("id=\"failures-table\"").nth(1).unwrap();
    let failures = &failures[..failures.find("</table>").unwrap()];
    assert_eq!(
        failures.matches("<tr><td class=\"num\"").count(),
        snapshot.errors.len()
    );

    let strict = CriteriaSet::aggregated(&["fail_ratio < 0.01", "count > 10"]).unwrap();
    let (page, _, _) = reports(&snapshot, &strict);
    assert!(page.contains("<div class=\"verdict failed\">FAILED</div>"));
    assert!(page.contains("<li>failure ratio 1.50% is at or over 1%</li>"));
}

#[test]
fn names_are_escaped_everywhere() {
    let start = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    let mut shard = crate::stats::Shard::new();
    let key = crate::stats::RequestKey::new("GET", "/a<b>&\"c\"|d");
    shard.record(
        &key,
        std::time::Duration::from_millis(5),
        0,
        Some("<boom>"),
        start,
    );
    let mut agg = crate::stats::Aggregator::new(start);
    agg.merge_shard(&shard);
    let snapshot = agg.snapshot(start + std::time::Duration::from_secs(2), 1);
    let (page, xml, md) = reports(&snapshot, &platform());
    assert!(!page.contains("<b>") && !page.contains("<boom>"));
    assert!(page.contains("/a&lt;b&gt;&amp;&quot;c&quot;|d"));
    assert!(!xml.contains("<boom>"));
    assert!(md.contains("/a<b>&\"c\"\\|d"));
}

#[test]
fn junit_has_one_test_case_per_criterion() {
    let snapshot = guide_snapshot();
    let set = CriteriaSet::aggregated(&[
        "fail_ratio <= 0.05",
        "avg <= 2000",
        "p(95) < 1000",
        "rps > 200",
    ])
    .unwrap();
    let (_, xml, _) = reports(&snapshot, &set);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"loadgen\" tests=\"4\" failures=\"2\""));
    assert_eq!(xml.matches("<testcase ").count(), 4);
    assert_eq!(xml.matches("<failure ").count(), 2);
    assert!(xml.contains(
        "<testcase classname=\"Aggregated\" name=\"fail_ratio &lt;= 0.05\" time=\"0\"/>"
    ));
    assert!(xml.contains("message=\"requests/s 166.67 is at or under 200\""));
    assert!(xml.contains("<property name=\"outcome\" value=\"FAILED\"/>"));
    assert!(xml.contains("<system-out>Total requests: 10000\n"));
    assert!(xml.trim_end().ends_with("</testsuites>"));
    // Balanced tags.
    for tag in ["testsuites", "testsuite", "properties", "system-out"] {
        assert_eq!(
            xml.matches(&format!("<{tag}")).count() - usize::from(tag == "testsuite"),
            xml.matches(&format!("</{tag}>")).count(),
            "{tag}"
        );
    }

    let (_, xml, _) = reports(&snapshot, &CriteriaSet::default());
    assert!(xml.contains("tests=\"0\" failures=\"0\""));
    assert!(xml.contains("value=\"NO CRITERIA\""));
}

#[test]
fn markdown_has_verdict_bands_analysis_and_tables() {
    let snapshot = guide_snapshot();
    let (_, _, md) = reports(&snapshot, &platform());
    assert!(md.starts_with("# loadgen: guide - PASSED\n"), "{md}");
    let clients = snapshot
        .rows
        .iter()
        .find(|r| r.name == "/api/clients")
        .unwrap();
    let clients_row = format!(
        "| GET | /api/clients | 5000 | 0 | {:.2} | {:.2} | {:.2} | {:.2} | 83.33 | 0.00 |",
        clients.avg_response_time_ms(),
        clients.min_response_time_ms(),
        clients.max_response_time_ms(),
        clients.median_response_time_ms()
    );
    for needle in [
        "| Aggregated | `p(95) <= 5000` |",
        "| POST /api/trading/execute | 1500 ms degraded | ",
        " 10.00% poor | 16.7 req/s |",
        "- POST /api/trading/execute: needs optimization (1500 ms avg, high max); fails 10.00% of requests: investigate\n",
        &clients_row,
        "| 100 | POST | /api/trading/execute | HTTPError('500 Server Error for url: /api/trading/execute') |",
    ] {
        assert!(md.contains(needle), "missing {needle}\n{md}");
    }
    assert_eq!(md.matches("\n## ").count(), 6);
}

#[test]
fn html_and_markdown_list_the_stages_with_their_start_times() {
    let snapshot = guide_snapshot();
    let verdict = criteria::evaluate(&snapshot, &platform());
    let report = bands(&snapshot, &Baselines::default());
    let analysis = analyse(&snapshot, &Baselines::default());
    let settings = settings();
    let stages = [
        crate::plan::load::StageMark {
            stage: 0,
            at: std::time::Duration::ZERO,
            label: "50 users at 5/s".into(),
        },
        crate::plan::load::StageMark {
            stage: 1,
            at: std::time::Duration::from_millis(30_250),
            label: "500 users at 100/s".into(),
        },
    ];
    let inputs = Inputs {
        snapshot: &snapshot,
        settings: &settings,
        verdict: &verdict,
        baselines: &report,
        analysis: &analysis,
        stages: &stages,
        overhead_share: crate::sinks::overhead::DEFAULT_OVERHEAD_SHARE,
    };
    let md = markdown(&inputs);
    assert!(md.contains(
        "\n## Stages\n\n| Start (s) | Stage |\n|---:|---|\n| 0.0 | stage 1: 50 users at 5/s |\n| 30.2 | stage 2: 500 users at 100/s |\n"
    ), "{md}");
    let page = html(&inputs);
    assert!(page.contains("<li data-at=\"30.25\">30.2 s: stage 2: 500 users at 100/s</li>"));
    // One label per time chart.
    assert_eq!(
        page.matches("stage 2: 500 users at 100/s\n</text>").count(),
        4,
        "{page}"
    );
    let plain = Inputs {
        stages: &[],
        ..inputs
    };
    assert!(!markdown(&plain).contains("## Stages"));
    assert!(!html(&plain).contains("id=\"stages\""));
}

/// The text printed after Locust's tables for a judgement.
fn console_text(j: &Judgement, s: &Snapshot) -> String {
    crate::sinks::summary::end_of_run(s, &j.bands, &j.analysis, &j.verdict, false, true)
}

#[test]
fn a_judgement_prints_its_verdict_and_writes_each_report_asked_for() {
    let s = guide_snapshot();
    let platform =
        CriteriaSet::aggregated(&["fail_ratio <= 0.05", "avg <= 2000", "p(95) <= 5000"]).unwrap();
    let j = Judgement::new(&s, &platform, &Baselines::default(), None);
    let text = console_text(&j, &s);
    assert!(text.starts_with("Baselines"));
    assert!(text.contains("\nAnalysis\n- GET /api/clients is fast (250 ms avg)\n"));
    assert!(
        text.contains(
            "Requests/s: 166.67\nPASSED\n  ok  Aggregated: failure ratio 1.50% is at most 5%\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("  PASSED on the criteria's rows (Aggregated) only; POST /api/trading/execute fails 10.00%: investigate\n"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let paths = OutputConfig {
        html: Some(dir.path().join("r.html")),
        junit: None,
        summary_md: Some(dir.path().join("r.md")),
        ..OutputConfig::default()
    };
    assert!(write_reports(&j, &s, &settings(), &[], &paths).is_empty());
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("<div class=\"verdict passed\">PASSED</div>"));
    assert!(std::fs::read_to_string(dir.path().join("r.md"))
        .unwrap()
        .starts_with("# loadgen: guide - PASSED"));
    assert!(!dir.path().join("r.xml").exists());

    let bad = OutputConfig {
        junit: Some(dir.path().join("missing").join("r.xml")),
        ..OutputConfig::default()
    };
    let errors = write_reports(&j, &s, &settings(), &[], &bad);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("cannot write JUnit report"),
        "{errors:?}"
    );
}

#[test]
fn an_aborted_run_prints_and_reports_the_abort() {
    let s = guide_snapshot();
    let set = trade_abort_criteria();
    let abort = AbortWatch::new(&set, s.start)
        .unwrap()
        .check(&s, 4)
        .unwrap();
    let j = Judgement::new(&s, &set, &Baselines::default(), Some(abort));
    assert_eq!(j.verdict.outcome(), Outcome::Aborted);
    assert!(console_text(&j, &s)
        .contains("ABORTED\n  - aborted after 60 s: POST /api/trading/execute: failure ratio 10.00% is at or over 5%\n"));
    let dir = tempfile::tempdir().unwrap();
    let paths = OutputConfig {
        html: Some(dir.path().join("r.html")),
        junit: Some(dir.path().join("r.xml")),
        summary_md: None,
        ..OutputConfig::default()
    };
    assert!(write_reports(&j, &s, &settings(), &[], &paths).is_empty());
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("<div class=\"verdict aborted\">ABORTED</div>"));
    assert!(html.contains("<li>aborted after 60 s: POST /api/trading/execute: failure ratio 10.00% is at or over 5%</li>"));
    let xml = std::fs::read_to_string(dir.path().join("r.xml")).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"2\""), "{xml}");
    assert!(xml.contains("<failure type=\"aborted\""));
}

#[test]
fn a_snapshots_page_is_escaped_complete_and_holds_the_console_tables() {
    let snapshot = Snapshot::empty(SystemTime::UNIX_EPOCH);
    let page = snapshot_html(&snapshot, "a<b>", &[]);
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
    assert!(page.contains("a&lt;b&gt;") && !page.contains("a<b>"));
    let table =
        crate::sinks::console::request_table(&snapshot, crate::sinks::console::Rates::Total);
    assert!(page.contains(&escape(&table)));
}

/// The ids of the `<h2>` headings, in page order.
fn section_ids(page: &str) -> Vec<&str> {
    page.match_indices("<h2 id=\"")
        .map(|(at, m)| {
            let rest = &page[at + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

#[test]
fn html_has_a_table_of_contents_in_the_order_a_reader_needs() {
    let (page, _, _) = reports(&guide_snapshot(), &platform());
    let want = [
        "verdict",
        "settings",
        "requests",
        "failures",
        "charts",
        "spectrum",
        "baselines",
        "analysis",
        "console",
    ];
    assert_eq!(section_ids(&page), want);
    let toc = page.split("<nav id=\"toc\"").nth(1).unwrap();
    let toc = &toc[..toc.find("</nav>").unwrap()];
    let links: Vec<&str> = attributes(toc, "href");
    let anchors: Vec<String> = want.iter().map(|id| format!("#{id}")).collect();
    assert_eq!(links, anchors);
    // The TOC comes before the first section.
    assert!(page.find("id=\"toc\"").unwrap() < page.find("id=\"verdict\"").unwrap());
}

#[test]
fn html_settings_name_the_host_and_the_task_ratio() {
    let (page, _, _) = reports(&guide_snapshot(), &platform());
    assert!(page.contains("<th>Host</th><td>http://127.0.0.1:8000</td>"));
    assert!(page.contains(", against http://127.0.0.1:8000"));
    assert!(page.contains("<th>Spawn rate</th><td>5 users/s</td>"));
    // The guide scenario's one class and its tasks, per class and of the whole run.
    let table = page.split("id=\"task-ratio-table\"").nth(1).unwrap();
    let table = &table[..table.find("</table>").unwrap()];
    let ratios = &settings().task_ratio;
    assert_eq!(ratios.len(), 1);
    assert!(table.contains("<strong>GuideUser</strong>"));
    assert_eq!(
        table.matches("<td class=\"task\">").count(),
        ratios[0].tasks.len()
    );
    let shares: f64 = ratios[0].tasks.iter().map(|t| t.ratio).sum();
    assert!((shares - 1.0).abs() < 1e-12);
    for t in &ratios[0].tasks {
        assert!(table.contains(&format!(
            "<td class=\"task\">{}</td><td class=\"num\" data-v=\"{}\">{:.1}%</td>",
            t.task,
            t.ratio,
            t.ratio * 100.0
        )));
    }
}

#[test]
fn failures_come_most_frequent_first_and_wrap_instead_of_scrolling() {
    let snapshot = guide_snapshot();
    // First seen order puts /api/ml/predict (50) before /api/trading/execute (100)...
    let first_seen: Vec<u64> = snapshot.errors.iter().map(|e| e.occurrences).collect();
    assert_ne!(
        first_seen,
        [100, 50],
        "the fixture no longer tests the sort"
    );
    let (page, _, md) = reports(&snapshot, &platform());
    // ... the reports put the most frequent first.
    let at = |text: &str, needle: &str| text.find(needle).unwrap();
    let trade = "/api/trading/execute')";
    let predict = "/api/ml/predict')";
    let failures = &page[at(&page, "id=\"failures-table\"")..];
    assert!(at(failures, trade) < at(failures, predict));
    let md_failures = &md[at(&md, "## Failures")..];
    assert!(at(md_failures, trade) < at(md_failures, predict));
    // Not inside a sideways-scrolling box; the text columns wrap.
    let before = &page[..at(&page, "id=\"failures-table\"")];
    assert!(
        before.ends_with("<table class=\"wrap\" "),
        "{}",
        &before[before.len() - 60..]
    );
    assert!(failures.contains("<td class=\"text\">HTTPError("));
    assert!(page.contains("table.wrap td.text{white-space:normal;overflow-wrap:anywhere"));
}

#[test]
fn every_measured_value_carries_its_unit() {
    let snapshot = guide_snapshot();
    let set = CriteriaSet::aggregated(&[
        "avg <= 500",
        "p(95) <= 5000",
        "fail_ratio <= 0.05",
        "rps > 200",
        "count > 10",
    ])
    .unwrap();
    let (page, xml, md) = reports(&snapshot, &set);
    let avg = snapshot.aggregated.avg_response_time_ms();
    let avg_text = format!("{avg:.2} ms");
    let md_line = md
        .lines()
        .find(|l| l.contains("`avg <= 500`"))
        .unwrap()
        .to_owned();
    assert_eq!(
        md_line,
        format!("| Aggregated | `avg <= 500` | {avg_text} | **fail** |")
    );
    for (criterion, unit) in [
        ("`p(95) <= 5000`", " ms |"),
        ("`fail_ratio <= 0.05`", "% |"),
        ("`rps > 200`", " req/s |"),
        ("`count > 10`", " requests |"),
    ] {
        let line = md.lines().find(|l| l.contains(criterion)).unwrap();
        assert!(line.contains(unit), "{line}");
    }
    assert!(page.contains(&format!("data-v=\"{avg}\">{avg_text}</td>")));
    assert!(
        xml.contains(&format!(">measured {avg_text}</failure>")),
        "{xml}"
    );
    assert!(!xml.contains(&format!("measured {avg}<")));
}

#[test]
fn median_max_and_avg_read_the_same_in_every_table_of_a_report() {
    let snapshot = guide_snapshot();
    let (page, _, md) = reports(&snapshot, &platform());
    let requests = table_rows(&page, "requests-table");
    let percentiles = table_rows(&page, "percentiles-table");
    for ((label, req), (_, pct)) in requests.iter().zip(&percentiles) {
        // Requests table: reqs, fails, avg, min, max, median...; percentiles: 50% first,
        // 100% eleventh.
        assert_eq!(pct[0], req[5], "{label}: median vs 50%");
        assert_eq!(pct[10], req[4], "{label}: max vs 100%");
    }
    // Markdown shows the same figures with the same two decimals as the HTML.
    let clients = snapshot
        .rows
        .iter()
        .find(|r| r.name == "/api/clients")
        .unwrap();
    let shown = |v: f64| format!("{v:.2}");
    let md_row = md
        .lines()
        .find(|l| l.starts_with("| GET | /api/clients | 5000 |"))
        .unwrap();
    for v in [
        clients.avg_response_time_ms(),
        clients.median_response_time_ms(),
        clients.max_response_time_ms(),
    ] {
        assert!(md_row.contains(&format!(" {} |", shown(v))), "{md_row}");
        assert!(page.contains(&format!("data-v=\"{v}\">{}</td>", shown(v))));
    }
    let md_pct = md
        .lines()
        .filter(|l| l.starts_with("| GET | /api/clients |"))
        .nth(1)
        .unwrap();
    assert!(md_pct.starts_with(&format!(
        "| GET | /api/clients | {} |",
        shown(clients.median_response_time_ms())
    )));
    assert!(md_pct.ends_with(&format!(" {} |", shown(clients.max_response_time_ms()))));
}

#[test]
fn the_interval_chart_draws_each_seconds_windowed_percentiles() {
    let snapshot = guide_snapshot();
    let windowed: Vec<f64> = snapshot
        .history
        .iter()
        .filter_map(|h| h.current_p95_ms)
        .collect();
    assert_eq!(windowed.len(), snapshot.history.len());
    let svg = charts::interval_response_time_chart(&snapshot, &[]).unwrap();
    assert!(svg.contains("Response times per interval"));
    // Two lines (p50, p95), each with a vertex per history second.
    let lines: Vec<usize> = svg
        .split("<polyline")
        .skip(1)
        .map(|p| {
            let points = &p[p.find("points=\"").unwrap() + 8..];
            points[..points.find('"').unwrap()]
                .split_whitespace()
                .count()
        })
        .filter(|&n| n > 2)
        .collect();
    assert_eq!(lines, [snapshot.history.len(); 2], "{lines:?}");
    let (page, _, _) = reports(&snapshot, &platform());
    let pair = page.split("<div class=\"pair\">").nth(1).unwrap();
    let first = pair.find("chart-interval-response-times").unwrap();
    let second = pair.find("chart-response-times").unwrap();
    assert!(first < second);
}
