//! Every platform route through the router (`oneshot`): a success and its bad-input
//! answers, each checked for status and for what the error says.

use axum::http::{Method, StatusCode};

use crate::support::{self, app, call, call_with, get, post};

#[tokio::test]
async fn health_reports_the_database() {
    let (app, _) = app(support::fast()).await;
    let a = get(&app, "/health").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["status"], "healthy");
    assert_eq!(a.json["database"]["status"], "connected");
    assert_eq!(a.json["database"]["backend"], "sqlite");
}

#[tokio::test]
async fn clients_list_one_and_portfolio() {
    let (app, _) = app(support::fast()).await;
    let a = get(&app, "/api/clients").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["count"], 10);
    assert_eq!(a.json["clients"][0]["id"], 1);

    let a = get(&app, "/api/clients/7").await;
    assert_eq!(
        (a.status, &a.json["id"]),
        (StatusCode::OK, &serde_json::json!(7))
    );
    let a = get(&app, "/api/clients/11").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.detail(), "client 11 not found");
    assert_eq!(a.json["error"], "not_found");
    let a = get(&app, "/api/clients/seven").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.detail().contains("seven"), "{}", a.detail());

    let a = get(&app, "/api/clients/7/portfolio").await;
    assert_eq!(a.status, StatusCode::OK);
    let holdings = a.json["holdings"].as_array().unwrap();
    assert!(holdings.len() >= 8);
    let weights: f64 = holdings.iter().map(|h| h["weight"].as_f64().unwrap()).sum();
    assert!((weights - 1.0).abs() < 0.01, "{weights}");
    assert_eq!(
        get(&app, "/api/clients/0/portfolio").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn predict_and_performance() {
    let (app, _) = app(support::fast()).await;
    let a = get(&app, "/api/ml/predict?ticker=NVDA").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["ticker"], "NVDA");
    assert!(["up", "down", "flat"].contains(&a.json["prediction"]["direction"].as_str().unwrap()));
    let again = get(&app, "/api/ml/predict?ticker=nvda").await;
    assert_eq!(
        again.json["prediction"], a.json["prediction"],
        "deterministic for a ticker and day"
    );

    let a = get(&app, "/api/ml/predict?ticker=XYZ").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.detail().contains("XYZ"), "{}", a.detail());
    let a = get(&app, "/api/ml/predict").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.detail().contains("missing field `ticker`"),
        "{}",
        a.detail()
    );

    let a = get(&app, "/api/ml/performance").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["models"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn train_starts_a_job_that_can_be_polled() {
    let (app, _) = app(support::fast()).await;
    let a = post(
        &app,
        "/api/ml/train",
        r#"{"model_type":"momentum","lookback_days":90}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let url = a.json["status_url"].as_str().unwrap().to_owned();
    assert_eq!(a.headers["location"], url.as_str());
    assert_eq!(
        url,
        format!("/api/jobs/{}", a.json["job_id"].as_str().unwrap())
    );
    // The fast profile's jobs take no time; poll a bounded number of times.
    let mut status = String::new();
    for _ in 0..200 {
        let j = get(&app, &url).await;
        assert_eq!(j.status, StatusCode::OK);
        status = j.json["status"].as_str().unwrap().to_owned();
        if status != "running" {
            assert_eq!(j.json["kind"], "ml_train");
            assert_eq!(j.json["params"]["model_type"], "momentum");
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(status, "completed");

    for (body, status, needle) in [
        (
            r#"{"model_type":"quantum","lookback_days":90}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown variant `quantum`",
        ),
        (
            r#"{"model_type":"value","lookback_days":0}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "lookback_days: 0 is out of range",
        ),
        (
            r#"{"model_type":"value","lookback_days":"ninety"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid type: string",
        ),
        (
            r#"{"model_type":"value""#,
            StatusCode::BAD_REQUEST,
            "EOF while parsing",
        ),
        (
            r#"{"lookback_days":30}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing field `model_type`",
        ),
    ] {
        let a = post(&app, "/api/ml/train", body).await;
        assert_eq!(a.status, status, "{body}: {:?}", a.json);
        assert!(a.detail().contains(needle), "{body}: {}", a.detail());
    }
}

#[tokio::test]
async fn jobs_bad_ids() {
    let (app, _) = app(support::fast()).await;
    let a = get(&app, "/api/jobs/not-a-uuid").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.detail().contains("not a UUID"), "{}", a.detail());
    let a = get(&app, "/api/jobs/0b3c2a6e-9a59-4b8e-9d0c-3f0f6f7c2a11").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.detail().contains("0b3c2a6e"), "{}", a.detail());
}

#[tokio::test]
async fn optimize_and_rebalance() {
    let (app, _) = app(support::fast()).await;
    let a = get(&app, "/api/portfolio/optimize/3").await;
    assert_eq!(a.status, StatusCode::OK);
    let weights = a.json["optimal"]["weights"].as_object().unwrap();
    let sum: f64 = weights.values().map(|w| w.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 0.01, "{sum}");
    assert!(a.json["optimal"]["iterations"].as_u64().unwrap() >= 256);
    assert_eq!(
        get(&app, "/api/portfolio/optimize/42").await.status,
        StatusCode::NOT_FOUND
    );

    let a = call(&app, Method::POST, "/api/portfolio/rebalance/3", None).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(a.json["kind"], "portfolio_rebalance");
    let a = call(&app, Method::POST, "/api/portfolio/rebalance/42", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.detail(), "client 42 not found");
}

#[tokio::test]
async fn optimize_spends_the_profiles_cpu_budget() {
    let mut profile = support::fast();
    profile
        .routes
        .get_mut("GET /api/portfolio/optimize/{client_id}")
        .unwrap()
        .cpu_ms = 40.0;
    let (app, _) = app(profile).await;
    let a = get(&app, "/api/portfolio/optimize/1").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.json["optimal"]["compute_ms"].as_f64().unwrap() >= 40.0,
        "{}",
        a.json["optimal"]
    );
}

async fn execute(app: &axum::Router, body: &str, headers: &[(&str, &str)]) -> support::Answer {
    call_with(
        app,
        Method::POST,
        "/api/trading/execute",
        Some(body),
        headers,
    )
    .await
}

#[tokio::test]
async fn an_idempotency_key_returns_the_first_trade() {
    let (app, state) = app(support::fast()).await;
    let body = r#"{"client_id":3,"ticker":"MSFT","quantity":4,"side":"buy"}"#;
    let key = [("Idempotency-Key", "5b0c3c1e-order-1")];
    let first = execute(&app, body, &key).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.json);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let repeat = execute(&app, body, &key).await;
    assert_eq!(repeat.status, StatusCode::OK, "{:?}", repeat.json);
    assert_eq!(repeat.json, first.json, "the first result, same trade id");
    assert_eq!(repeat.headers["idempotent-replayed"], "true");
    assert_eq!(state.store.trade_count().await.unwrap(), 1);

    let other = r#"{"client_id":3,"ticker":"MSFT","quantity":5,"side":"buy"}"#;
    let reused = execute(&app, other, &key).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.json["error"], "idempotency_key_reused");
    assert!(
        reused.detail().contains("client 3 buy 4 MSFT"),
        "{}",
        reused.detail()
    );
    let long = "k".repeat(256);
    for bad in ["", "has space", long.as_str()] {
        let a = execute(&app, body, &[("Idempotency-Key", bad)]).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert!(
            a.detail().contains("1..=255 visible ASCII"),
            "{}",
            a.detail()
        );
    }
    // Without a key every order trades.
    execute(&app, body, &[]).await;
    execute(&app, body, &[]).await;
    assert_eq!(state.store.trade_count().await.unwrap(), 3);
}

#[tokio::test]
async fn trades_execute_and_bad_orders_say_why() {
    let (app, _) = app(support::fast()).await;
    let a = post(
        &app,
        "/api/trading/execute",
        r#"{"client_id":2,"ticker":"AAPL","quantity":25,"side":"buy","order_type":"market"}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.json);
    assert_eq!(
        (a.json["status"].as_str(), a.json["quantity"].as_i64()),
        (Some("executed"), Some(25))
    );
    let h = get(&app, "/api/trading/history/2").await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.json["count"], 1);
    assert_eq!(h.json["trades"][0]["trade_id"], a.json["trade_id"]);

    for (body, status, needle) in [
        (
            r#"{"client_id":2,"ticker":"AAPL","quantity":99999999,"side":"sell"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity: 99999999 is out of range",
        ),
        (
            r#"{"client_id":2,"ticker":"JPM","quantity":999999,"side":"sell"}"#,
            StatusCode::CONFLICT,
            "cannot sell 999999",
        ),
        (
            r#"{"client_id":77,"ticker":"AAPL","quantity":1,"side":"buy"}"#,
            StatusCode::NOT_FOUND,
            "client 77 not found",
        ),
        (
            r#"{"client_id":2,"ticker":"NOPE","quantity":1,"side":"buy"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "\"NOPE\" is not traded",
        ),
        (
            r#"{"client_id":2,"ticker":"AAPL","quantity":1,"side":"short"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown variant `short`",
        ),
        (
            r#"{"client_id":2,"ticker":"AAPL","quantity":1.5,"side":"buy"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity: invalid value: 1.5, expected an integer",
        ),
        (
            r#"{"client_id":2,"ticker":"AAPL","quantity":1,"side":"buy","order_type":"limit"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown variant `limit`",
        ),
        (
            r#"not json"#,
            StatusCode::BAD_REQUEST,
            "Failed to parse the request body as JSON",
        ),
    ] {
        let a = post(&app, "/api/trading/execute", body).await;
        assert_eq!(a.status, status, "{body}: {:?}", a.json);
        assert!(a.detail().contains(needle), "{body}: {}", a.detail());
    }
    // Only the one good trade was written.
    assert_eq!(get(&app, "/api/trading/history/2").await.json["count"], 1);

    let big = format!(
        r#"{{"client_id":2,"ticker":"AAPL","quantity":1,"side":"buy","pad":"{}"}}"#,
        "x".repeat(100_000)
    );
    let a = post(&app, "/api/trading/execute", &big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        a.detail().contains("length limit exceeded"),
        "{}",
        a.detail()
    );
    let a = call(&app, Method::POST, "/api/trading/execute", None).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(a.detail().contains("Content-Type"), "{}", a.detail());

    let a = get(&app, "/api/trading/history/2?limit=0").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.detail().contains("limit: 0 is out of range"),
        "{}",
        a.detail()
    );
    let a = get(&app, "/api/trading/history/2?limit=lots").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.detail().contains("limit"), "{}", a.detail());
    assert_eq!(
        get(&app, "/api/trading/history/55").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn historical_data_is_bulk_and_deterministic() {
    let (app, _) = app(support::fast()).await;
    // Every range the document allows is answered: a start after the end is empty, a
    // range over 3660 days comes in pages that join up, whatever today's date.
    let empty = get(
        &app,
        "/api/data/historical?ticker=GOOGL&start=2024-05-01&end=2024-01-01",
    )
    .await;
    assert_eq!(empty.status, StatusCode::OK, "{:?}", empty.json);
    assert_eq!(empty.json["count"], 0);
    let future = get(&app, "/api/data/historical?ticker=GOOGL&start=2100-01-01").await;
    assert_eq!(
        (future.status, &future.json["count"]),
        (StatusCode::OK, &serde_json::json!(0))
    );
    let long = get(
        &app,
        "/api/data/historical?ticker=GOOGL&start=1990-01-01&end=2024-01-01",
    )
    .await;
    assert_eq!(long.status, StatusCode::OK, "{:?}", long.json);
    assert_eq!(long.json["end"], "2000-01-08", "3660 days from the start");
    assert_eq!(long.json["next_start"], "2000-01-09");
    let rest = get(
        &app,
        "/api/data/historical?ticker=GOOGL&start=2000-01-09&end=2024-01-01",
    )
    .await;
    assert_eq!(rest.json["next_start"], "2010-01-16");
    let old = get(&app, "/api/data/historical?ticker=GOOGL&start=1970-01-01").await;
    assert_eq!(old.status, StatusCode::OK, "{:?}", old.json);
    assert!(old.json["next_start"].is_string());
    let uri = "/api/data/historical?ticker=GOOGL&start=2024-01-01&end=2024-12-31";
    let a = get(&app, uri).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["count"], 262);
    assert_eq!(a.json["data"].as_array().unwrap().len(), 262);
    assert_eq!(a.json["data"][0]["date"], "2024-01-01");
    assert_eq!(get(&app, uri).await.json, a.json, "same bytes twice");
    assert!(a.json.get("next_start").is_none(), "answered whole");

    for (query, status, needle) in [
        (
            "ticker=GOOGL&start=2024-02-30&end=2024-03-01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "start: \"2024-02-30\" is not a date",
        ),
        (
            "ticker=GOOGL&start=2024-01-01&end=yesterday",
            StatusCode::UNPROCESSABLE_ENTITY,
            "end: \"yesterday\" is not a date",
        ),
        ("ticker=QQQQ", StatusCode::NOT_FOUND, "\"QQQQ\" not found"),
        (
            "ticker=GOOGL&end=-262143-01-01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "outside the data's years",
        ),
        (
            "ticker=GOOGL&start=9999-01-01&end=9999-02-01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "outside the data's years",
        ),
        (
            "start=2024-01-01",
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing field `ticker`",
        ),
    ] {
        let a = get(&app, &format!("/api/data/historical?{query}")).await;
        assert_eq!(a.status, status, "{query}: {:?}", a.json);
        assert!(a.detail().contains(needle), "{query}: {}", a.detail());
    }
}

#[tokio::test]
async fn unknown_paths_methods_metrics_and_openapi() {
    let (app, _) = app(support::fast()).await;
    let a = get(&app, "/api/nothing").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.detail(), "no route for /api/nothing");
    let a = call(&app, Method::DELETE, "/api/clients", None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(a.detail().contains("DELETE"), "{}", a.detail());

    get(&app, "/api/clients/3").await;
    get(&app, "/api/clients/4").await;
    let response = tower::ServiceExt::oneshot(
        app.clone(),
        axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let text = String::from_utf8(
        http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/clients/{client_id}",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"http_request_duration_seconds_bucket{le="0.0075",method="GET",route="/api/clients/{client_id}"}"#), "{text}");
    assert!(text.contains("http_requests_in_flight 0"), "{text}");
    assert!(
        !text.contains("/api/clients/3"),
        "raw paths never become labels"
    );

    let doc = get(&app, "/openapi.json").await;
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.json["paths"].as_object().unwrap();
    for route in mock_api::profile::ROUTES {
        let (method, path) = route.split_once(' ').unwrap();
        assert!(
            paths
                .get(path)
                .and_then(|p| p.get(method.to_lowercase()))
                .is_some(),
            "{route} missing from OpenAPI"
        );
    }
}

#[tokio::test]
async fn oneshot_requests_have_no_peer_so_admin_is_refused() {
    let (app, _) = app(support::fast()).await;
    let a = get(&app, "/admin/stats").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.detail().contains("loopback"), "{}", a.detail());
}
