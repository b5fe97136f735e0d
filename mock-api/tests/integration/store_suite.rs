//! The store suite: every case runs against SQLite, and against PostgreSQL when
//! `MOCK_API_POSTGRES_URL` is set (see `support::db`). A case receives a URL so it can
//! also reopen the database, as a restart does.

use mock_api::store::{JobStatus, NewTrade, Side, Store, StoreOptions, TradeError};

async fn open(url: &str) -> Store {
    Store::connect(url, &StoreOptions::default())
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"))
}

fn order(client_id: i64, ticker: &str, quantity: i64, side: Side) -> NewTrade {
    NewTrade {
        client_id,
        ticker: ticker.to_owned(),
        quantity,
        side,
        order_type: "market".to_owned(),
    }
}

async fn held(store: &Store, client: i64, ticker: &str) -> i64 {
    store
        .holdings(client)
        .await
        .unwrap()
        .iter()
        .find(|h| h.ticker == ticker)
        .map_or(0, |h| h.quantity)
}

/// Each case, written once.
mod cases {
    use super::*;

    pub async fn seeds_clients_with_portfolios(url: String) {
        let store = open(&url).await;
        let clients = store.clients().await.unwrap();
        assert_eq!(
            clients.iter().map(|c| c.id).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
        for t in [
            "AAPL", "GOOGL", "MSFT", "AMZN", "TSLA", "NVDA", "META", "NFLX",
        ] {
            assert!(held(&store, 1, t).await >= 50_000, "{t}");
        }
        assert!(store.client(11).await.unwrap().is_none());
        store.close().await;
        // Reopening neither duplicates nor changes the seed; asking for more adds them.
        let more = Store::connect(&url, &StoreOptions { clients: 12 })
            .await
            .unwrap();
        let again = more.clients().await.unwrap();
        assert_eq!(again.len(), 12);
        assert_eq!(again[..10], clients[..]);
        more.close().await;
    }

    pub async fn a_buy_commits_the_trade_holding_and_cash(url: String) {
        let store = open(&url).await;
        let before = held(&store, 2, "MSFT").await;
        let cash = store.client(2).await.unwrap().unwrap().cash_balance;
        let trade = store
            .execute_trade(&order(2, "MSFT", 40, Side::Buy))
            .await
            .unwrap();
        assert_eq!(
            (
                trade.client_id,
                trade.ticker.as_str(),
                trade.side.as_str(),
                trade.quantity
            ),
            (2, "MSFT", "buy", 40)
        );
        assert!(trade.price > 0.0);
        assert_eq!(held(&store, 2, "MSFT").await, before + 40);
        let cash_after = store.client(2).await.unwrap().unwrap().cash_balance;
        assert!(
            (cash - cash_after - 40.0 * trade.price).abs() < 1e-6,
            "{cash} -> {cash_after}"
        );
        assert_eq!(store.trades(2, 10).await.unwrap(), vec![trade]);
        store.close().await;
    }

    pub async fn a_sell_beyond_the_holding_is_refused_and_changes_nothing(url: String) {
        let store = open(&url).await;
        let before = held(&store, 3, "AAPL").await;
        let err = store
            .execute_trade(&order(3, "AAPL", before + 1, Side::Sell))
            .await
            .unwrap_err();
        match err {
            TradeError::InsufficientHoldings {
                held, requested, ..
            } => assert_eq!((held, requested), (before, before + 1)),
            other => panic!("{other:?}"),
        }
        assert_eq!(held(&store, 3, "AAPL").await, before);
        assert!(store.trades(3, 10).await.unwrap().is_empty());
        // Selling exactly everything is fine; one more share is not.
        store
            .execute_trade(&order(3, "AAPL", before, Side::Sell))
            .await
            .unwrap();
        assert_eq!(held(&store, 3, "AAPL").await, 0);
        let err = store
            .execute_trade(&order(3, "AAPL", 1, Side::Sell))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("holds 0 AAPL, cannot sell 1"),
            "{err}"
        );
        assert_eq!(store.trades(3, 10).await.unwrap().len(), 1);
        store.close().await;
    }

    pub async fn unknown_clients_and_tickers_are_refused(url: String) {
        let store = open(&url).await;
        assert!(matches!(
            store.execute_trade(&order(99, "AAPL", 1, Side::Buy)).await,
            Err(TradeError::UnknownClient(99))
        ));
        assert!(matches!(
            store.execute_trade(&order(1, "ZZZZ", 1, Side::Buy)).await,
            Err(TradeError::UnknownTicker(_))
        ));
        assert!(store.trades(1, 10).await.unwrap().is_empty());
        store.close().await;
    }

    pub async fn history_is_newest_first_and_limited(url: String) {
        let store = open(&url).await;
        for q in 1..=5 {
            store
                .execute_trade(&order(4, "GOOGL", q, Side::Buy))
                .await
                .unwrap();
        }
        let trades = store.trades(4, 3).await.unwrap();
        assert_eq!(
            trades.iter().map(|t| t.quantity).collect::<Vec<_>>(),
            [5, 4, 3]
        );
        store.close().await;
    }

    pub async fn concurrent_trades_all_commit_exactly(url: String) {
        let store = open(&url).await;
        let before = held(&store, 5, "NVDA").await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..24 {
            let store = store.clone();
            let side = if i % 3 == 0 { Side::Sell } else { Side::Buy };
            tasks.spawn(async move {
                store
                    .execute_trade(&order(5, "NVDA", 10, side))
                    .await
                    .map(|_| side)
            });
        }
        let mut net = 0;
        while let Some(done) = tasks.join_next().await {
            net += match done.unwrap().unwrap() {
                Side::Buy => 10,
                Side::Sell => -10,
            };
        }
        assert_eq!(net, 16 * 10 - 8 * 10);
        assert_eq!(held(&store, 5, "NVDA").await, before + net);
        assert_eq!(store.trades(5, 100).await.unwrap().len(), 24);
        store.close().await;
    }

    pub async fn jobs_run_finish_once_and_are_interrupted_on_reopen(url: String) {
        let store = open(&url).await;
        let params = serde_json::json!({"model_type": "growth", "lookback_days": 30});
        let done = store
            .create_job(
                "ml_train",
                None,
                &params,
                std::time::Duration::from_millis(1500),
            )
            .await
            .unwrap();
        assert_eq!(
            (done.status, done.duration_ms, &done.params),
            (JobStatus::Running, 1500, &params)
        );
        let result = serde_json::json!({"accuracy": 0.6});
        assert!(store
            .finish_job(&done.job_id, JobStatus::Completed, Some(&result), None)
            .await
            .unwrap());
        assert!(
            !store
                .finish_job(&done.job_id, JobStatus::Failed, None, Some("late"))
                .await
                .unwrap(),
            "a finished job stays finished"
        );
        let read = store.job(&done.job_id).await.unwrap().unwrap();
        assert_eq!(
            (read.status, read.result.as_ref()),
            (JobStatus::Completed, Some(&result))
        );
        assert!(read.finished_at.is_some());
        assert_eq!(
            store
                .count_jobs("ml_train", JobStatus::Completed)
                .await
                .unwrap(),
            1
        );

        let running = store
            .create_job(
                "portfolio_rebalance",
                Some(6),
                &serde_json::json!({}),
                std::time::Duration::from_secs(60),
            )
            .await
            .unwrap();
        store.close().await;
        let reopened = open(&url).await;
        assert_eq!(reopened.interrupted_at_start(), 1);
        let read = reopened.job(&running.job_id).await.unwrap().unwrap();
        assert_eq!(
            (read.status, read.client_id),
            (JobStatus::Interrupted, Some(6))
        );
        assert!(read.error.is_some());
        assert_eq!(
            reopened.job(&done.job_id).await.unwrap().unwrap().status,
            JobStatus::Completed
        );
        assert!(reopened
            .job("00000000-0000-0000-0000-000000000000")
            .await
            .unwrap()
            .is_none());
        reopened.close().await;
    }

    pub async fn an_idempotency_key_executes_once_across_connections_and_restarts(url: String) {
        let store = open(&url).await;
        let before = store.trade_count().await.unwrap();
        let buy = order(6, "META", 7, Side::Buy);
        // Concurrent repeats, each on whatever pool connection it gets: one trade.
        let tries: Vec<_> = (0..8)
            .map(|_| {
                let (store, buy) = (store.clone(), buy.clone());
                tokio::spawn(async move { store.execute_trade_once(&buy, "order-6-a").await })
            })
            .collect();
        let mut ids = Vec::new();
        let mut first = 0;
        for t in tries {
            let executed = t.await.unwrap().unwrap();
            first += usize::from(!executed.replayed);
            ids.push(executed.trade.trade_id);
        }
        assert_eq!(first, 1, "exactly one execution, the rest replays");
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "one trade id: {ids:?}"
        );
        assert_eq!(store.trade_count().await.unwrap(), before + 1);
        store.close().await;

        let reopened = open(&url).await;
        let again = reopened
            .execute_trade_once(&buy, "order-6-a")
            .await
            .unwrap();
        assert!(again.replayed);
        assert_eq!(
            again.trade.trade_id, ids[0],
            "the first result after a restart"
        );
        let other = order(6, "META", 8, Side::Buy);
        assert!(matches!(
            reopened.execute_trade_once(&other, "order-6-a").await,
            Err(TradeError::KeyReused { trade_id, .. }) if trade_id == ids[0]
        ));
        // A refused order does not use its key up.
        let too_many = order(6, "META", 1_000_000_000, Side::Sell);
        assert!(matches!(
            reopened.execute_trade_once(&too_many, "order-6-b").await,
            Err(TradeError::InsufficientHoldings { .. })
        ));
        let sell = order(6, "META", 1, Side::Sell);
        let sold = reopened
            .execute_trade_once(&sell, "order-6-b")
            .await
            .unwrap();
        assert!(!sold.replayed);
        assert_eq!(reopened.trade_count().await.unwrap(), before + 2);
        reopened.close().await;
    }

    pub async fn health_ping_answers(url: String) {
        let store = open(&url).await;
        store.ping().await.unwrap();
        store.close().await;
        assert!(store.ping().await.is_err(), "a closed pool does not answer");
    }
}

/// Generates one test per case and backend.
macro_rules! store_suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = crate::support::db::Db::sqlite();
                    super::cases::$case(db.url().to_owned()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL: set MOCK_API_POSTGRES_URL=postgres://user@host:port/db"]
                async fn $case() {
                    let db = crate::support::db::Db::postgres().await;
                    // Run in a task so the database is dropped even when the case fails.
                    let outcome = tokio::spawn(super::cases::$case(db.url().to_owned())).await;
                    db.cleanup().await;
                    if let Err(e) = outcome {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
            )*
        }
    };
}

store_suite!(
    seeds_clients_with_portfolios,
    a_buy_commits_the_trade_holding_and_cash,
    a_sell_beyond_the_holding_is_refused_and_changes_nothing,
    unknown_clients_and_tickers_are_refused,
    history_is_newest_first_and_limited,
    concurrent_trades_all_commit_exactly,
    jobs_run_finish_once_and_are_interrupted_on_reopen,
    an_idempotency_key_executes_once_across_connections_and_restarts,
    health_ping_answers,
);
