//! The run's database: a temporary SQLite file by default, or a database on a
//! PostgreSQL server. For PostgreSQL a [`ScratchDatabase`] creates a fresh database
//! with a random name on the server (so runs never see each other's trades) and drops
//! it afterwards; [`count_trades`] reads the trade rows from either backend over a
//! connection of our own.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, Executor, PgConnection, Row};

/// Why a scratch database could not be made, used or dropped.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL is not `postgres://` or `postgresql://` with a host.
    #[error("database URL {url} is invalid: expected postgres://user@host:port/db")]
    Url {
        /// The URL, password hidden.
        url: String,
    },
    /// The server refused a statement or a connection.
    #[error("PostgreSQL at {url}: {action}: {source}")]
    Server {
        /// The URL, password hidden.
        url: String,
        /// What was being done (`CREATE DATABASE harness_...`).
        action: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
}

/// True for a `postgres://` or `postgresql://` URL.
pub fn is_postgres(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The URL with any password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => format!("{scheme}://{userinfo}@{host}{path}"),
        },
        None => url.to_owned(),
    }
}

/// The URL with its database name replaced by `name` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> Result<String, DatabaseError> {
    let bad = || DatabaseError::Url { url: redact(url) };
    if !is_postgres(url) {
        return Err(bad());
    }
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or("");
    if authority.is_empty() || authority.ends_with('@') {
        return Err(bad());
    }
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// A database created for one run on a PostgreSQL server, dropped by
/// [`ScratchDatabase::drop_database`].
#[derive(Debug)]
pub struct ScratchDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates a database with a fresh random name (`harness_<16 hex digits>`) on the
    /// server `server_url` points at (its own database is only used to connect).
    pub async fn create(server_url: &str) -> Result<Self, DatabaseError> {
        let name = format!("harness_{:016x}", random_u64());
        let url = with_database(server_url, &name)?;
        let statement = format!("CREATE DATABASE \"{name}\"");
        admin(server_url, &statement).await?;
        Ok(Self {
            server_url: server_url.to_owned(),
            name,
            url,
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database, closing any connection still open to it.
    pub async fn drop_database(self) -> Result<(), DatabaseError> {
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        admin(&self.server_url, &statement).await
    }

    /// Whether a database of this name exists on the server.
    pub async fn exists_on(server_url: &str, name: &str) -> Result<bool, DatabaseError> {
        let err = |source| DatabaseError::Server {
            url: redact(server_url),
            action: format!("looking up database {name}"),
            source,
        };
        let mut conn = PgConnection::connect(server_url).await.map_err(err)?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .map_err(err)?;
        let n: i64 = row.try_get("n").map_err(err)?;
        let _ = conn.close().await;
        Ok(n > 0)
    }
}

/// Runs one statement on the server's own database (CREATE/DROP DATABASE cannot run in
/// a transaction, so over a plain connection).
async fn admin(server_url: &str, statement: &str) -> Result<(), DatabaseError> {
    let err = |source| DatabaseError::Server {
        url: redact(server_url),
        action: statement.to_owned(),
        source,
    };
    let mut conn = PgConnection::connect(server_url).await.map_err(err)?;
    conn.execute(statement).await.map_err(err)?;
    let _ = conn.close().await;
    Ok(())
}

/// A random 64-bit number from the standard library's per-process random hash keys,
/// mixed with the clock, so two runs (or two tests of one process) never share a name.
fn random_u64() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h = RandomState::new().build_hasher();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.finish()
}

/// Trade rows in the database at `url` (a PostgreSQL URL, or a SQLite file path).
pub async fn count_trades(url: &str) -> Result<i64, sqlx::Error> {
    const QUERY: &str = "SELECT COUNT(*) AS n FROM trades";
    if is_postgres(url) {
        let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
        let n = sqlx::query(QUERY)
            .fetch_one(&pool)
            .await
            .and_then(|row| row.try_get::<i64, _>("n"));
        pool.close().await;
        n
    } else {
        let options = SqliteConnectOptions::new().filename(url).read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let n = sqlx::query(QUERY)
            .fetch_one(&pool)
            .await
            .and_then(|row| row.try_get::<i64, _>("n"));
        pool.close().await;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_password_hidden() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgresql://u:pw@h/db?sslmode=disable", "x").unwrap(),
            "postgresql://u:pw@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h", "x").unwrap(),
            "postgres://h/x"
        );
        assert!(with_database("sqlite://a.db", "x").is_err());
        assert!(with_database("postgres:///db", "x").is_err());
        assert_eq!(
            redact("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
        let e = with_database("postgres://u:secret@/db", "x").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn names_differ_between_calls() {
        assert_ne!(random_u64(), random_u64());
    }
}
