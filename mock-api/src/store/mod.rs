//! The platform's database through sqlx: SQLite by default, PostgreSQL when the URL
//! says so, from the same code.
//!
//! Every query goes through sqlx's `Any` driver with `$N` placeholders (both SQLite and
//! PostgreSQL accept them), integers as BIGINT, floats as DOUBLE PRECISION and
//! timestamps as RFC 3339 text, so one set of queries below serves both backends. Only
//! the migrations differ, one embedded folder per backend.

mod migrations;
pub mod probe;
mod records;
mod seed;
mod trades;

pub use records::{Client, Holding, Job, JobStatus, JsonText, Side, Trade, UnknownJobStatus};
pub use trades::{Executed, NewTrade, TradeError, MAX_IDEMPOTENCY_KEY_LEN};

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::MigrateDatabase;
use sqlx::{Any, AnyConnection, AnyPool, Connection as _, FromRow as _, Row};

use crate::market::UNIVERSE;

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite (a file, or `sqlite::memory:`).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// What went wrong in the store, with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend this build supports.
    #[error("database URL {url:?} is neither sqlite: nor postgres:// (expected e.g. sqlite://mock-api.db, sqlite::memory: or postgres://user@host/db)")]
    UnsupportedUrl {
        /// The URL as given (credentials removed).
        url: String,
    },
    /// A SQLite URL without a file: SQLite would give each connection its own empty
    /// temporary database.
    #[error("database URL {url:?} names no file: expected sqlite://FILE (e.g. sqlite://mock-api.db) or sqlite::memory:")]
    NoSqliteFile {
        /// The URL as given.
        url: String,
    },
    /// A query or connection failed.
    #[error("database error while {op}: {source}")]
    Sql {
        /// What the store was doing.
        op: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("migrating the {backend:?} database failed: {source}")]
    Migrate {
        /// The backend being migrated.
        backend: Backend,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

fn sql(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Sql { op, source }
}

/// Options for opening a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// How many clients the seed guarantees (ids 1..=clients).
    pub clients: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { clients: 10 }
    }
}

/// The database: a pool plus what it was opened with.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    interrupted_at_start: u64,
    clients_cache: Arc<ClientsCache>,
    /// For an in-memory SQLite database: a connection outside the pool that no query
    /// uses, so the database lives while the store does, whatever the pool closes.
    keeper: Option<Arc<tokio::sync::Mutex<Option<AnyConnection>>>>,
}

/// The client list as last read from the database, dropped on every write this store
/// makes to the clients table. The mock is the only writer of its database, so the
/// cached list is what a `SELECT` would return.
///
/// A read that started before a write must not put the old list back after the write
/// dropped it: each write bumps `generation`, and a read fills the cache only if the
/// generation it saw before its `SELECT` is still current.
#[derive(Debug, Default)]
struct ClientsCache {
    generation: AtomicU64,
    list: Mutex<Option<Arc<Vec<Client>>>>,
}

impl ClientsCache {
    fn get(&self) -> Option<Arc<Vec<Client>>> {
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn fill(&self, seen: u64, list: Arc<Vec<Client>>) {
        let mut slot = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        // Under the lock: `invalidate` bumps the generation and clears under it too.
        if self.generation.load(Ordering::Acquire) == seen {
            *slot = Some(list);
        }
    }

    fn invalidate(&self) {
        let mut slot = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        *slot = None;
    }
}

/// The current time as stored (RFC 3339, milliseconds, UTC).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A name of its own for an in-memory SQLite database, which every connection opened
/// with it shares (SQLite's `memdb` VFS: one database per name in the process, alive
/// while a connection to it is open). sqlx names `sqlite::memory:` anew each time it
/// parses the URL, which its `Any` driver does for every connection, so a connection
/// the pool replaced came back to an empty database.
fn memory_url() -> String {
    format!(
        "sqlite:///mock-api-memory-{}?mode=rwc&vfs=memdb",
        uuid::Uuid::new_v4().simple()
    )
}

/// Turns what a user typed into a sqlx URL: a bare path means a SQLite file.
pub fn normalize_url(url: &str) -> Result<(String, Backend), StoreError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Ok((url.to_owned(), Backend::Postgres))
    } else if lower.starts_with("sqlite:") {
        let rest = url["sqlite:".len()..].trim_start_matches("//");
        let (file, params) = rest.split_once('?').unwrap_or((rest, ""));
        if file.is_empty() && !params.contains("mode=memory") {
            return Err(StoreError::NoSqliteFile {
                url: url.to_owned(),
            });
        }
        Ok((url.to_owned(), Backend::Sqlite))
    } else if !url.is_empty() && !url.contains("://") {
        Ok((format!("sqlite://{url}"), Backend::Sqlite))
    } else {
        let shown = url
            .split_once('@')
            .map_or(url.to_owned(), |(_, host)| format!("…@{host}"));
        Err(StoreError::UnsupportedUrl { url: shown })
    }
}

impl Store {
    /// Opens (creating a SQLite file if needed), migrates, seeds, and marks jobs left
    /// `running` by a previous process as `interrupted`.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = normalize_url(url)?;
        let in_memory = backend == Backend::Sqlite && url.contains(":memory:");
        if backend == Backend::Sqlite
            && !in_memory
            && !Any::database_exists(&url)
                .await
                .map_err(sql("checking for the SQLite file"))?
        {
            Any::create_database(&url)
                .await
                .map_err(sql("creating the SQLite file"))?;
        }
        let url = if in_memory { memory_url() } else { url };
        let connect = AnyConnectOptions::from_str(&url).map_err(sql("parsing the database URL"))?;
        // An in-memory database lives while one connection to it is open. The pool drops
        // a connection whose query was cancelled (a client that gave up), so the keeper
        // holds one open beside the pool, which may then replace its own freely.
        let keeper = if in_memory {
            let conn = AnyConnection::connect_with(&connect)
                .await
                .map_err(sql("opening the in-memory database"))?;
            Some(Arc::new(tokio::sync::Mutex::new(Some(conn))))
        } else {
            None
        };
        // One connection first, so an unreachable server or a refused login is reported
        // as what it is; the pool would retry it until its timeout and say only that.
        if !in_memory {
            AnyConnection::connect_with(&connect)
                .await
                .map_err(sql("connecting"))?
                .close()
                .await
                .map_err(sql("connecting"))?;
        }
        let mut pool = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        pool = match (backend, in_memory) {
            // One connection, as before: the database is a single writer either way.
            (Backend::Sqlite, true) => pool.max_connections(1),
            (Backend::Sqlite, false) => pool.max_connections(8),
            (Backend::Postgres, _) => pool.max_connections(16),
        };
        let pool = pool
            .connect_with(connect)
            .await
            .map_err(sql("connecting"))?;
        if backend == Backend::Sqlite && !in_memory {
            // WAL lets readers run beside the single writer.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(sql("enabling WAL"))?;
        }
        let migrate = |source| StoreError::Migrate { backend, source };
        let migrator = migrations::migrator(backend).await.map_err(migrate)?;
        migrator.run(&pool).await.map_err(migrate)?;
        let mut store = Self {
            pool,
            backend,
            interrupted_at_start: 0,
            clients_cache: Arc::default(),
            keeper,
        };
        store.seed(options).await?;
        store.interrupted_at_start = store
            .interrupt_running_jobs("the server stopped while the job ran")
            .await?;
        Ok(store)
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How many jobs were found `running` at start and marked `interrupted`.
    pub fn interrupted_at_start(&self) -> u64 {
        self.interrupted_at_start
    }

    /// Closes the pool, waiting for connections to be returned (an in-memory database
    /// ends here).
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(keeper) = &self.keeper {
            if let Some(conn) = keeper.lock().await.take() {
                let _ = conn.close().await;
            }
        }
    }

    /// Reads the schema with a trivial query; returns how long it took. A database that
    /// answers but lost the platform's tables (an in-memory one that was dropped and
    /// opened anew) fails here too.
    pub async fn ping(&self) -> Result<Duration, StoreError> {
        let start = Instant::now();
        sqlx::query("SELECT COUNT(*) AS n FROM tickers")
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get::<i64, _>("n"))
            .map_err(sql("pinging"))?;
        Ok(start.elapsed())
    }

    async fn seed(&self, options: &StoreOptions) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(sql("starting the seed"))?;
        for t in UNIVERSE {
            sqlx::query(
                "INSERT INTO tickers (symbol, name, sector, reference_price) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (symbol) DO NOTHING",
            )
            .bind(t.symbol)
            .bind(t.name)
            .bind(t.sector)
            .bind(t.reference_price)
            .execute(&mut *tx)
            .await
            .map_err(sql("seeding tickers"))?;
        }
        let existing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM clients")
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(sql("counting clients"))?;
        let created_at = now_rfc3339();
        for id in (existing + 1)..=i64::from(options.clients) {
            let c = seed::client(id);
            sqlx::query("INSERT INTO clients (id, name, email, risk_profile, cash_balance, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(c.id)
                .bind(&c.name)
                .bind(&c.email)
                .bind(c.risk_profile)
                .bind(c.cash_balance)
                .bind(&created_at)
                .execute(&mut *tx)
                .await
                .map_err(sql("seeding clients"))?;
            for (ticker, quantity, avg_cost) in &c.holdings {
                sqlx::query("INSERT INTO holdings (client_id, ticker, quantity, avg_cost) VALUES ($1, $2, $3, $4)")
                    .bind(c.id)
                    .bind(*ticker)
                    .bind(*quantity)
                    .bind(*avg_cost)
                    .execute(&mut *tx)
                    .await
                    .map_err(sql("seeding holdings"))?;
            }
        }
        let committed = tx.commit().await.map_err(sql("committing the seed"));
        self.clients_cache.invalidate();
        committed
    }

    /// Every client, by id: read from the database once, then served from memory until
    /// this store next writes to the clients table (see `ClientsCache`).
    pub async fn clients(&self) -> Result<Arc<Vec<Client>>, StoreError> {
        if let Some(list) = self.clients_cache.get() {
            return Ok(list);
        }
        let seen = self.clients_cache.generation.load(Ordering::Acquire);
        let list = Arc::new(self.clients_uncached().await?);
        self.clients_cache.fill(seen, list.clone());
        Ok(list)
    }

    /// Every client, by id, read from the database now (bypassing the cache).
    pub async fn clients_uncached(&self) -> Result<Vec<Client>, StoreError> {
        let rows = sqlx::query("SELECT id, name, email, risk_profile, cash_balance, created_at FROM clients ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(sql("listing clients"))?;
        rows.iter()
            .map(Client::from_row)
            .collect::<Result<_, _>>()
            .map_err(sql("decoding clients"))
    }

    /// One client, if it exists.
    pub async fn client(&self, id: i64) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query("SELECT id, name, email, risk_profile, cash_balance, created_at FROM clients WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(sql("reading a client"))?;
        row.as_ref()
            .map(Client::from_row)
            .transpose()
            .map_err(sql("decoding a client"))
    }

    /// A client's positions with a non-zero quantity, by ticker.
    pub async fn holdings(&self, client_id: i64) -> Result<Vec<Holding>, StoreError> {
        let rows = sqlx::query("SELECT ticker, quantity, avg_cost FROM holdings WHERE client_id = $1 AND quantity > 0 ORDER BY ticker")
            .bind(client_id)
            .fetch_all(&self.pool)
            .await
            .map_err(sql("reading holdings"))?;
        rows.iter()
            .map(Holding::from_row)
            .collect::<Result<_, _>>()
            .map_err(sql("decoding holdings"))
    }

    /// Records a new job as `running`.
    pub async fn create_job(
        &self,
        kind: &str,
        client_id: Option<i64>,
        params: &serde_json::Value,
        duration: Duration,
    ) -> Result<Job, StoreError> {
        let now = now_rfc3339();
        let row = sqlx::query(
            "INSERT INTO jobs (id, kind, client_id, params, status, duration_ms, created_at, started_at) \
             VALUES ($1, $2, $3, $4, 'running', $5, $6, $6) \
             RETURNING id, kind, client_id, params, status, duration_ms, created_at, started_at, finished_at, result, error",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(kind)
        .bind(client_id)
        .bind(params.to_string())
        .bind(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(sql("creating a job"))?;
        Job::from_row(&row).map_err(sql("decoding a job"))
    }

    /// Ends a running job; a job no longer `running` (e.g. interrupted) is left alone.
    pub async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        result: Option<&serde_json::Value>,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET status = $1, finished_at = $2, result = $3, error = $4 WHERE id = $5 AND status = 'running'",
        )
        .bind(status.as_str())
        .bind(now_rfc3339())
        .bind(result.map(|r| r.to_string()))
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(sql("finishing a job"))?;
        Ok(done.rows_affected() == 1)
    }

    /// One job, if it exists.
    pub async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(
            "SELECT id, kind, client_id, params, status, duration_ms, created_at, started_at, finished_at, result, error \
             FROM jobs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(sql("reading a job"))?;
        row.as_ref()
            .map(Job::from_row)
            .transpose()
            .map_err(sql("decoding a job"))
    }

    /// Marks every `running` job `interrupted` with `reason`; returns how many.
    pub async fn interrupt_running_jobs(&self, reason: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE jobs SET status = 'interrupted', finished_at = $1, error = $2 WHERE status = 'running'")
            .bind(now_rfc3339())
            .bind(reason)
            .execute(&self.pool)
            .await
            .map_err(sql("interrupting running jobs"))?;
        Ok(done.rows_affected())
    }

    /// How many jobs of `kind` are in `status`.
    pub async fn count_jobs(&self, kind: &str, status: JobStatus) -> Result<i64, StoreError> {
        sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE kind = $1 AND status = $2")
            .bind(kind)
            .bind(status.as_str())
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(sql("counting jobs"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open() -> Store {
        Store::connect("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_trade_is_visible_in_the_next_client_list() {
        let store = open().await;
        let before = store.clients().await.unwrap();
        // Served from memory now: the same list.
        assert!(Arc::ptr_eq(&before, &store.clients().await.unwrap()));
        let order = NewTrade {
            client_id: 2,
            ticker: "MSFT".to_owned(),
            quantity: 3,
            side: Side::Buy,
            order_type: "market".to_owned(),
        };
        store.execute_trade(&order).await.unwrap();
        let after = store.clients().await.unwrap();
        assert_eq!(after[..], store.clients_uncached().await.unwrap()[..]);
        assert!(
            after[1].cash_balance < before[1].cash_balance,
            "the buy's cost shows: {} then {}",
            before[1].cash_balance,
            after[1].cash_balance
        );
        // A refused trade writes nothing: the list read next is still the database's.
        let refused = NewTrade {
            quantity: 1_000_000_000,
            side: Side::Sell,
            ..order
        };
        assert!(store.execute_trade(&refused).await.is_err());
        assert_eq!(store.clients().await.unwrap()[..], after[..]);
    }

    #[tokio::test]
    async fn an_in_memory_store_survives_its_connection_being_replaced() {
        let store = open().await;
        let order = NewTrade {
            client_id: 1,
            ticker: "AAPL".to_owned(),
            quantity: 1,
            side: Side::Buy,
            order_type: "market".to_owned(),
        };
        store.execute_trade(&order).await.unwrap();
        // The pool closes a connection it cannot trust, as it does with one whose query
        // a caller abandoned midway, and opens another in its place.
        let cut = tokio::time::timeout(
            Duration::from_millis(5),
            sqlx::query(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) \
                 SELECT COUNT(*) FROM c",
            )
            .fetch_one(&store.pool),
        )
        .await;
        assert!(cut.is_err(), "the query ended within 5 ms");
        let conn = store.pool.acquire().await.unwrap().detach();
        conn.close().await.unwrap();
        store.ping().await.expect("the schema is still there");
        assert_eq!(store.clients_uncached().await.unwrap().len(), 10);
        assert_eq!(store.trade_count().await.unwrap(), 1, "the trade is kept");
    }

    #[tokio::test]
    async fn the_ping_fails_when_the_tables_are_gone() {
        let store = open().await;
        store.ping().await.unwrap();
        sqlx::query("ALTER TABLE tickers RENAME TO tickers_gone")
            .execute(&store.pool)
            .await
            .unwrap();
        let err = store
            .ping()
            .await
            .expect_err("a database without the schema");
        assert!(err.to_string().contains("tickers"), "{err}");
    }

    #[tokio::test]
    async fn a_url_without_a_file_or_server_says_what_is_wrong() {
        for url in ["sqlite://", "sqlite:", "sqlite://?mode=rwc"] {
            let err = Store::connect(url, &StoreOptions::default())
                .await
                .expect_err(url)
                .to_string();
            assert!(err.contains("names no file"), "{url}: {err}");
        }
        // Nothing listens on port 1 of loopback: the connection error itself, at once.
        let start = Instant::now();
        let err = Store::connect(
            "postgres://postgres@127.0.0.1:1/none",
            &StoreOptions::default(),
        )
        .await
        .expect_err("no server")
        .to_string();
        assert!(
            err.contains("refused") && !err.contains("timed out"),
            "{err}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_read_older_than_a_write_does_not_refill_the_cache() {
        let cache = ClientsCache::default();
        let seen = cache.generation.load(Ordering::Acquire);
        cache.invalidate();
        cache.fill(seen, Arc::new(Vec::new()));
        assert!(cache.get().is_none(), "a stale list came back");
        let now = cache.generation.load(Ordering::Acquire);
        cache.fill(now, Arc::new(Vec::new()));
        assert!(cache.get().is_some());
    }
}
