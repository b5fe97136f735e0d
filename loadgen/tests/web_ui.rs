//! The web UI in a real browser: Debian's chromium driven by chromedriver over the
//! WebDriver protocol (its JSON commands sent through the shared test client). loadgen's web
//! UI runs in-process against an in-process axum target on loopback; the test fills the
//! form, starts the run, waits for rows and charts (reading a chart's values under the
//! pointer and zooming by a drag), changes the user count (a second stage in the
//! header), reads the Logs tab, stops (current rates 0, an unwritable report counted on
//! the Exceptions tab), downloads the stats CSV and compares it with
//! `GET /stats/requests/csv`, opens the HTML report (contents, per-interval chart,
//! failures inside a 1400 px window), runs a timed test whose banner goes when it ends,
//! and saves a screenshot of each (their paths are printed; `WEBUI_SHOTS_DIR` gets a
//! copy).
//!
//! It needs Debian's chromium and chromedriver, so it is ignored by default:
//! `cargo test -p loadgen --test web_ui -- --include-ignored` runs it, and fails with
//! what to install when either is missing. Its folder (screenshots, the browser's
//! profile) is removed at the end.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use loadgen::web::{LogRing, RunParams, WebConfig, WebLimits, WebUi};
use loadgen::{RunConfig, Scenario, Target};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The longest any one wait may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An exchange over a fresh connection through the shared test client: (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Vec<u8>) {
    let body = body.map(Value::to_string);
    let request = test_http::blocking::request(addr, method, path, body.as_deref());
    let reply =
        test_http::blocking::send(request).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (reply.status, reply.body)
}

/// A WebDriver session on a chromedriver this test started (killed on drop).
struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
}

impl Browser {
    fn start(chromedriver: &Path, chromium: &Path, dir: &Path, downloads: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(dir.join("chromedriver.log")).expect("log file");
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("chromedriver starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut browser = Self {
            driver,
            addr,
            session: String::new(),
        };
        poll("chromedriver to listen", || {
            test_http::blocking::get(addr, "/status").is_ok_and(|r| r.status == 200)
        });
        let profile = dir.join("chromium-profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1280,1000",
                         format!("--user-data-dir={}", profile.display())],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "safebrowsing.enabled": false
                }
            }
        }}});
        let answer = browser.send("POST", "/session", Some(&caps));
        browser.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        browser
    }

    /// One WebDriver command; its `value`.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, bytes) = http(self.addr, method, path, body);
        let answer: Value = serde_json::from_slice(&bytes).expect("WebDriver answers JSON");
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer["value"].clone()
    }

    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        // A GET carries no body; chromedriver refuses one.
        self.send(method, &path, (!body.is_null()).then_some(&body))
    }

    fn go(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url }));
    }

    fn find(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.command("POST", &format!("/element/{id}/click"), json!({}));
    }

    fn fill(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.command("POST", &format!("/element/{id}/clear"), json!({}));
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        );
    }

    /// Moves the pointer onto the element, `dx` pixels right of its centre.
    fn point_at(&self, css: &str, dx: i64) {
        let id = self.find(css);
        self.actions(json!([
            {"type": "pointerMove", "duration": 0, "origin": {ELEMENT: id}, "x": dx, "y": 0}
        ]));
    }

    /// Presses the mouse left of the element's centre and releases it to the right: a
    /// drag across the middle third.
    fn drag_across(&self, css: &str) {
        let id = self.find(css);
        let third = self.script(&format!(
            "return Math.round(document.querySelector({css:?}).getBoundingClientRect().width / 6);"
        ));
        let third = third.as_i64().expect("a width");
        let origin = json!({ ELEMENT: id });
        self.actions(json!([
            {"type": "pointerMove", "duration": 0, "origin": origin, "x": -third, "y": 0},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerMove", "duration": 100, "origin": origin, "x": third, "y": 0},
            {"type": "pointerUp", "button": 0}
        ]));
    }

    /// One sequence of mouse actions (WebDriver's Actions API).
    fn actions(&self, steps: Value) {
        self.command(
            "POST",
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse",
                "parameters": {"pointerType": "mouse"}, "actions": steps}]}),
        );
    }

    fn script(&self, source: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({"script": source, "args": []}),
        )
    }

    /// Polls a script until it returns true.
    fn wait_until(&self, what: &str, source: &str) {
        poll(what, || self.script(source) == Value::Bool(true));
    }

    fn screenshot(&self, path: &Path) {
        let data = self.command("GET", "/screenshot", Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64 text"))
            .expect("a PNG");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).expect("write the screenshot");
        println!("screenshot: {}", path.display());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = std::panic::catch_unwind(|| http(self.addr, "DELETE", &path, None));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Polls `done` every 100 ms until it holds, failing after [`DEADLINE`].
fn poll(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A program on the PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Two classes, 3:1: readers GET /api/clients, writers POST a trade that sometimes fails.
fn scenario() -> Scenario {
    Scenario::from_toml(
        "browser.toml",
        r#"
[classes.Reader]
weight = 3
wait = { constant = 0.1 }
[[classes.Reader.tasks]]
name = "list_clients"
weight = 2
requests = [{ method = "GET", path = "/api/clients" }]
[[classes.Reader.tasks]]
name = "predict"
requests = [{ method = "GET", path = "/api/ml/predict" }]

[classes.Trader]
weight = 1
wait = { constant = 0.1 }
[[classes.Trader.tasks]]
name = "trade"
requests = [{ method = "POST", path = "/api/trading/execute" }]
"#,
    )
    .expect("the test scenario compiles")
}

/// The target: two fast routes and one that fails every fourth request.
async fn target() -> SocketAddr {
    use axum::http::StatusCode;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let trades = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new()
        .route("/api/clients", axum::routing::get(|| async { "[]" }))
        .route(
            "/api/ml/predict",
            axum::routing::get(|| async { "{\"score\": 0.5}" }),
        )
        .route(
            "/api/trading/execute",
            axum::routing::post(move || {
                let n = trades.fetch_add(1, Ordering::Relaxed);
                async move {
                    if n % 4 == 3 {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the target");
    let addr = listener.local_addr().expect("target address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[test]
#[ignore = "needs Chromium and ChromeDriver: apt-get install chromium chromium-driver"]
fn the_page_runs_a_test_in_chromium() {
    let chromium = which("chromium").or_else(|| which("chromium-browser"));
    let chromedriver = which("chromedriver");
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        panic!("chromium or chromedriver is not on PATH: apt-get install chromium chromium-driver");
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let target_addr = runtime.block_on(target());
    let host = format!("http://{target_addr}");
    // loadgen's own log lines reach the Logs tab through the logger, as in the binary.
    let logs = LogRing::default();
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("loadgen=info"))
        .with(logs.layer())
        .init();
    // The run writes an HTML report into a folder removed before the stop: an error
    // outside any request, which the Exceptions tab counts.
    let reports = tempfile::Builder::new()
        .prefix("loadgen-webui-reports-")
        .tempdir()
        .expect("a temp dir");
    let report_path = reports.path().join("run.html");
    let mut base = RunConfig::new(Target::parse(&host).expect("loopback"), 1, 1.0, None);
    base.seed = 7;
    base.output.html = Some(report_path.clone());
    let config = WebConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        limits: WebLimits::default(),
        auth: None,
        defaults: RunParams {
            users: 1,
            spawn_rate: 1.0,
            host: "http://127.0.0.1:1".to_owned(),
            run_time: None,
            classes: Vec::new(),
        },
        base,
        scenario: scenario(),
        autostart: false,
        autoquit: None,
        criteria: loadgen::criteria::CriteriaSet::aggregated(&[
            "fail_ratio <= 0.5",
            "p(95) <= 1000",
        ])
        .expect("criteria"),
        baselines: loadgen::baseline::Baselines::default(),
        logs: logs.clone(),
    };
    let ui = runtime
        .block_on(WebUi::bind(config))
        .expect("the web UI binds");
    let ui_addr = ui.local_addr().expect("its address");
    let shutdown = CancellationToken::new();
    let server = runtime.spawn(ui.serve(shutdown.clone()));

    // Dropped after the browser (declared before it), so the folder goes with the run.
    let folder = tempfile::Builder::new()
        .prefix("loadgen-webui-")
        .tempdir()
        .expect("a temp dir");
    let dir = folder.path();
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).expect("downloads dir");
    let browser = Browser::start(&chromedriver, &chromium, dir, &downloads);
    let shot = |name: &str| {
        let path = dir.join(format!("{name}.png"));
        browser.screenshot(&path);
        path
    };
    let mut shots = Vec::new();

    // The form, prefilled from the configuration; fill it as a person would.
    browser.go(&format!("http://{ui_addr}/"));
    browser.wait_until(
        "the form's values",
        "return document.getElementById('user_count').value === '1' && document.querySelectorAll('#classes input').length === 2;",
    );
    browser.fill("#user_count", "6");
    browser.fill("#spawn_rate", "20");
    browser.fill("#host", &host);
    shots.push(shot("0-start-form"));

    // A bad value is refused on the page with a sentence, before any request.
    browser.fill("#spawn_rate", "0");
    browser.click("#btn-start");
    browser.wait_until(
        "the invalid spawn rate message",
        "const m = document.getElementById('message'); return !m.hidden && m.textContent.includes('Spawn rate');",
    );
    browser.fill("#spawn_rate", "20");

    // An unreachable host is refused by the server with a sentence saying so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    browser.fill("#host", &format!("http://{closed}"));
    browser.click("#btn-start");
    browser.wait_until(
        "the unreachable host message",
        "const m = document.getElementById('message'); return !m.hidden && m.textContent.includes('cannot reach');",
    );
    shots.push(shot("0-unreachable-host"));
    browser.fill("#host", &host);
    browser.click("#btn-start");

    // Rows: three requests and Aggregated; the header says running with six users.
    browser.wait_until(
        "rows and six running users",
        "return document.querySelectorAll('#stats-table tbody tr').length === 4 && document.getElementById('h-state').textContent === 'running' && document.getElementById('h-users').textContent === '6';",
    );
    // Keyboard users land on the Stop button once the form is gone.
    browser.wait_until(
        "focus on Stop",
        "return document.activeElement.id === 'btn-stop';",
    );
    // Some seconds of history so the charts have lines.
    poll("five seconds of history", || {
        let (_, csv) = http(ui_addr, "GET", "/stats/requests_full_history/csv", None);
        String::from_utf8_lossy(&csv).lines().count() >= 6
    });
    browser.wait_until(
        "a refreshed table",
        "return document.querySelector('#stats-table tbody tr.total td:nth-child(3)').textContent !== '0';",
    );
    shots.push(shot("1-statistics"));

    browser.click("#tab-charts");
    browser.wait_until(
        "three drawn charts",
        "return ['chart-rps', 'chart-rt', 'chart-users'].every(id => { const l = document.querySelector('#' + id + ' polyline'); return l && l.getAttribute('points').split(' ').length >= 4; });",
    );
    // Full width: each chart spans the panel.
    browser.wait_until(
        "full-width charts",
        "const p = document.getElementById('panel-charts').clientWidth; return Array.from(document.querySelectorAll('figure.chart svg')).every(s => s.getBoundingClientRect().width >= p - 4);",
    );
    // The p50 and p95 of each interval, as Locust's report charts them.
    browser.wait_until(
        "the per-interval percentiles",
        "return ['p50', 'p95'].every(k => { const l = document.querySelector('#chart-rt polyline[data-series=' + k + ']'); return l && l.getAttribute('points').split(' ').length >= 4; });",
    );
    // Hover: the pointer on the requests chart shows that second's values.
    browser.point_at("#chart-rps .hover-layer", 0);
    browser.wait_until(
        "the values under the pointer",
        "const t = document.querySelector('#chart-rps .tip'); return !t.hidden && /^\\d+ s: RPS \\d+\\.\\d\\/s, Failures\\/s \\d+\\.\\d\\/s$/.test(t.textContent);",
    );
    shots.push(shot("2-charts-hover"));
    // Zoom: a drag across the users chart narrows every chart to those seconds.
    let before = browser.script(
        "return document.querySelector('#chart-users polyline').getAttribute('points').split(' ').length;",
    );
    browser.drag_across("#chart-users .hover-layer");
    browser.wait_until(
        "the zoom",
        "const z = document.getElementById('panel-charts').dataset.zoom; if (!z) return false; const [a, b] = z.split('-').map(Number); return b > a && !document.getElementById('btn-zoom-reset').disabled;",
    );
    let after = browser.script(
        "return document.querySelector('#chart-users polyline').getAttribute('points').split(' ').length;",
    );
    assert!(
        after.as_u64() < before.as_u64(),
        "zoomed {after} points, whole run {before}"
    );
    shots.push(shot("2-charts-zoomed"));
    browser.click("#btn-zoom-reset");
    browser.wait_until(
        "the whole run again",
        "return !document.getElementById('panel-charts').dataset.zoom && document.getElementById('btn-zoom-reset').disabled;",
    );

    // Edit: six users become three.
    browser.click("#btn-edit");
    browser.fill("#edit_user_count", "3");
    browser.click("#btn-apply");
    browser.wait_until(
        "three users in a second stage",
        "return document.getElementById('h-users').textContent === '3' && document.getElementById('h-stage').textContent === 'stage 2: 3 users at 20/s';",
    );

    browser.click("#tab-failures");
    browser.wait_until(
        "the trade failures",
        "return document.querySelector('#failures-table tbody').textContent.includes('503');",
    );
    shots.push(shot("3-failures"));

    browser.click("#tab-ratio");
    browser.wait_until(
        "the ratios",
        "return document.getElementById('ratio').textContent.includes('75.0% Reader');",
    );
    shots.push(shot("4-current-ratio"));

    browser.click("#tab-verdict");
    browser.wait_until(
        "the baselines and criteria",
        "return document.querySelectorAll('#bands-table tbody tr').length === 4 && document.getElementById('criteria-list').textContent.includes('fail_ratio');",
    );
    shots.push(shot("5-baselines-criteria"));

    // Keyboard: arrow keys move between tabs.
    browser.script("document.getElementById('tab-verdict').focus();");
    let focused = browser.find("#tab-verdict");
    browser.command(
        "POST",
        &format!("/element/{focused}/value"),
        json!({"text": "\u{E014}"}),
    );
    browser.wait_until(
        "the Logs tab by keyboard",
        "return document.getElementById('tab-logs').getAttribute('aria-selected') === 'true' && document.activeElement.id === 'tab-logs';",
    );

    // The Logs tab: the web UI's own lines and the engine's, through the logger.
    browser.click("#tab-logs");
    browser.wait_until(
        "the log lines",
        "const t = document.getElementById('logs-table').textContent; return t.includes('Swarming started: 6 users at 20 per second') && t.includes('Ramping to') && t.includes('Changed the running test to 3 users');",
    );
    shots.push(shot("6-logs"));

    // Stop, then download the stats CSV and compare it with the API's. The report's
    // folder is gone by then: the run ends with an error outside any request.
    std::fs::remove_dir_all(reports.path()).expect("remove the report folder");
    browser.click("#btn-stop");
    browser.wait_until(
        "the stop",
        "return document.getElementById('h-state').textContent === 'stopped' && !document.getElementById('btn-new').hidden;",
    );
    // Nothing is sent any more: current RPS reads 0 in the header and in every row.
    browser.wait_until(
        "current rates of 0",
        "const rows = Array.from(document.querySelectorAll('#stats-table tbody tr')); return document.getElementById('h-rps').textContent === '0.0' && rows.length === 4 && rows.every(r => r.children[11].textContent === '0.0' && r.children[12].textContent === '0.0');",
    );
    browser.click("#tab-exceptions");
    browser.wait_until(
        "the report error on the Exceptions tab",
        "const r = document.querySelector('#exceptions-table tbody tr'); return r && r.children[0].textContent === '1' && r.children[1].textContent.startsWith('cannot write HTML report') && r.children[2].textContent === 'report';",
    );
    shots.push(shot("7-exceptions"));
    browser.click("#tab-download");
    shots.push(shot("8-download-data"));
    browser.click("#dl-stats");
    let mut downloaded = None;
    poll("the downloaded CSV", || {
        downloaded = std::fs::read_dir(&downloads)
            .ok()
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.starts_with("requests_") && name.ends_with(".csv")
            });
        downloaded.is_some()
    });
    let downloaded = downloaded.expect("a CSV");
    let from_browser = std::fs::read(&downloaded).expect("read the download");
    let (status, from_api) = http(ui_addr, "GET", "/stats/requests/csv", None);
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&from_browser),
        String::from_utf8_lossy(&from_api)
    );
    assert!(String::from_utf8_lossy(&from_api).contains("/api/trading/execute"));

    // The HTML report of the run, in a 1400 px window: contents first, the interval
    // chart beside the whole-run one, the failures inside the width.
    browser.command(
        "POST",
        "/window/rect",
        json!({"width": 1400, "height": 1000}),
    );
    browser.go(&format!("http://{ui_addr}/stats/report"));
    browser.wait_until(
        "the report's contents",
        "const links = Array.from(document.querySelectorAll('nav#toc a')).map(a => a.getAttribute('href')); return links.join(' ') === '#verdict #settings #requests #failures #charts #spectrum #baselines #analysis #console' && links.every(h => document.querySelector(h));",
    );
    shots.push(shot("9-report-top"));
    browser.wait_until(
        "the per-interval chart beside the whole-run chart",
        "const a = document.querySelector('#chart-interval-response-times svg').getBoundingClientRect(); const b = document.querySelector('#chart-response-times svg').getBoundingClientRect(); return a.width > 300 && Math.abs(a.top - b.top) < 2 && a.right <= b.left;",
    );
    browser.script("document.getElementById('failures').scrollIntoView();");
    browser.wait_until(
        "the failures inside the window",
        "const t = document.getElementById('failures-table'); return t.rows.length >= 2 && t.textContent.includes('503') && t.getBoundingClientRect().right <= window.innerWidth && document.documentElement.scrollWidth <= window.innerWidth;",
    );
    shots.push(shot("10-report-failures"));
    browser.script("document.getElementById('charts').scrollIntoView();");
    shots.push(shot("11-report-charts"));
    browser.go(&format!("http://{ui_addr}/"));
    browser.wait_until(
        "the page again",
        "return document.getElementById('h-state').textContent === 'stopped';",
    );

    // Phone width: the statistics tab still fits its controls.
    browser.command("POST", "/window/rect", json!({"width": 390, "height": 844}));
    browser.click("#tab-stats");
    shots.push(shot("12-statistics-phone"));

    // A new test after the stop, without restarting; it ends on its own after 2 s, and
    // then "Swarming started" is gone and the rate reads 0.
    browser.click("#btn-new");
    browser.wait_until(
        "the start form again",
        "return !document.getElementById('start').hidden && document.activeElement.id === 'user_count';",
    );
    std::fs::create_dir_all(reports.path()).expect("the report folder again");
    browser.fill("#run_time", "2s");
    browser.click("#btn-start");
    browser.wait_until(
        "the swarming banner",
        "const m = document.getElementById('message'); return !m.hidden && m.textContent === 'Swarming started';",
    );
    browser.wait_until(
        "the end of the timed run without its banner",
        "const m = document.getElementById('message'); return document.getElementById('h-state').textContent === 'stopped' && !m.textContent.includes('Swarming started') && document.getElementById('h-rps').textContent === '0.0';",
    );
    shots.push(shot("13-timed-run-ended-phone"));

    drop(browser);
    shutdown.cancel();
    let code = runtime
        .block_on(server)
        .expect("the server task")
        .expect("the server");
    assert_eq!(code, 1, "failed trades make the exit code 1");
    if let Some(copy_to) = std::env::var_os("WEBUI_SHOTS_DIR") {
        let copy_to = PathBuf::from(copy_to);
        std::fs::create_dir_all(&copy_to).expect("the copy dir");
        for s in &shots {
            let to = copy_to.join(s.file_name().expect("a file name"));
            std::fs::copy(s, &to).expect("copy a screenshot");
            println!("copied: {}", to.display());
        }
    }
}
