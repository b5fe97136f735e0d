//! Persistence across a restart: a SQLite file keeps trades and holdings, and a job
//! that was running when the server stopped reads `interrupted` afterwards.

use mock_api::latency::LatencyDistribution;
use mock_api::server::{spawn, ServerConfig};

use crate::support;

/// One request: its status and JSON body (`Null` when the body is not JSON).
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let reply = test_http::send(test_http::request(addr, method, path, body))
        .await
        .unwrap_or_else(|e| panic!("{path}: no answer: {e}"));
    (reply.status, reply.json())
}

#[tokio::test]
async fn trades_holdings_and_jobs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut profile = support::fast();
    // Jobs outlast the first server.
    profile.jobs.duration = LatencyDistribution::Fixed {
        ms: 600_000.0,
        min_ms: None,
        max_ms: None,
    };
    let mut config = ServerConfig::new(profile);
    config.database_url = dir.path().join("acis.db").display().to_string();

    let server = spawn(config.clone()).await.unwrap();
    let addr = server.addr();
    let (_, before) = request(addr, "GET", "/api/clients/1/portfolio", None).await;
    let msft = |p: &serde_json::Value| {
        p["holdings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["ticker"] == "MSFT")
            .unwrap()["quantity"]
            .as_i64()
            .unwrap()
    };
    for (side, q) in [("buy", 30), ("sell", 12)] {
        let body = format!(
            r#"{{"client_id":1,"ticker":"MSFT","quantity":{q},"side":"{side}","order_type":"market"}}"#
        );
        let (status, trade) = request(addr, "POST", "/api/trading/execute", Some(&body)).await;
        assert_eq!(status, 200, "{trade}");
    }
    let (status, job) = request(
        addr,
        "POST",
        "/api/ml/train",
        Some(r#"{"model_type":"value","lookback_days":60}"#),
    )
    .await;
    assert_eq!(status, 202);
    let report = server.shutdown().await.unwrap();
    assert_eq!(report.jobs_interrupted, 1);

    let server = spawn(config).await.unwrap();
    let addr = server.addr();
    let (_, history) = request(addr, "GET", "/api/trading/history/1", None).await;
    assert_eq!(history["count"], 2);
    assert_eq!(history["trades"][0]["side"], "sell");
    let (_, after) = request(addr, "GET", "/api/clients/1/portfolio", None).await;
    assert_eq!(msft(&after), msft(&before) + 18);
    let (status, polled) = request(addr, "GET", job["status_url"].as_str().unwrap(), None).await;
    assert_eq!(status, 200);
    assert_eq!(polled["status"], "interrupted");
    assert_eq!(
        request(addr, "GET", "/api/clients", None).await.1["count"],
        10,
        "not seeded twice"
    );
    server.shutdown().await.unwrap();
}
