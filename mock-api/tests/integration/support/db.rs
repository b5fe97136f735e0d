//! Databases for the store suite: a SQLite file in a temporary directory, or a fresh
//! PostgreSQL database with a random name on the server `MOCK_API_POSTGRES_URL` names
//! (dropped afterwards), so tests run in parallel.
//!
//! The PostgreSQL tests are ignored by default (`cargo test` lists them as ignored with
//! the reason); `-- --include-ignored` runs them, and without the variable they fail
//! saying what to set, so a run that asked for them can never skip them silently.

use sqlx::{Connection, Executor, PgConnection};

/// The variable naming a PostgreSQL server for the tests.
pub const POSTGRES_ENV: &str = "MOCK_API_POSTGRES_URL";

/// A test database and how to remove it.
#[derive(Debug)]
pub enum Db {
    /// A SQLite file (removed with its directory).
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    /// A database on a PostgreSQL server.
    Postgres {
        server: String,
        name: String,
        url: String,
    },
}

impl Db {
    /// A SQLite file in a new temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("mock-api.db").display());
        Self::Sqlite { _dir: dir, url }
    }

    /// A fresh PostgreSQL database on the server `MOCK_API_POSTGRES_URL` names; panics
    /// saying what to set when it names none (the tests that call it are ignored unless
    /// asked for).
    pub async fn postgres() -> Self {
        let server = match std::env::var(POSTGRES_ENV) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => panic!(
                "{POSTGRES_ENV} is not set: set it to postgres://user@host:port/db to run the PostgreSQL store tests"
            ),
        };
        let name = format!("mock_api_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("connecting to {POSTGRES_ENV}: {e}"));
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("creates a test database");
        let _ = admin.close().await;
        let url = with_database(&server, &name);
        Self::Postgres { server, name, url }
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }

    /// Removes the database.
    pub async fn cleanup(self) {
        if let Self::Postgres { server, name, .. } = self {
            if let Ok(mut admin) = PgConnection::connect(&server).await {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
                let _ = admin.close().await;
            }
        }
    }
}

/// `url` with its database name replaced by `name` (query string kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[test]
fn database_names_are_replaced() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u@h:5432", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
}
