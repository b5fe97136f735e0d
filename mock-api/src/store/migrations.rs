//! The schema's migrations, embedded in the binary, one folder per backend.
//!
//! Each file is `NNNN_description.sql`, as sqlx's `migrate!` reads them; the list below
//! is written out instead of using that macro because the macro's crate compiles a second
//! copy of sqlx and both drivers for the compiler's host (see `records.rs`). Versions,
//! descriptions and checksums are the ones `migrate!` gave, so databases made before
//! still validate. `tests::every_file_is_listed` keeps the list and the folders equal.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::Backend;

/// One migration: its version, its file's description part, its SQL.
type Embedded = (i64, &'static str, &'static str);

const SQLITE: &[Embedded] = &[
    (
        1,
        "schema",
        include_str!("../../migrations/sqlite/0001_schema.sql"),
    ),
    (
        2,
        "idempotency keys",
        include_str!("../../migrations/sqlite/0002_idempotency_keys.sql"),
    ),
];

const POSTGRES: &[Embedded] = &[
    (
        1,
        "schema",
        include_str!("../../migrations/postgres/0001_schema.sql"),
    ),
    (
        2,
        "idempotency keys",
        include_str!("../../migrations/postgres/0002_idempotency_keys.sql"),
    ),
];

/// The migrator for `backend`'s schema.
pub(crate) async fn migrator(backend: Backend) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(EmbeddedMigrations(match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }))
    .await
}

/// A backend's embedded migrations, as a source sqlx's migrator resolves.
#[derive(Debug)]
struct EmbeddedMigrations(&'static [Embedded]);

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let migrations = self.0.iter().map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                // sqlx's own convention for a file that must run outside a transaction.
                sql.starts_with("-- no-transaction"),
            )
        });
        let migrations = migrations.collect();
        Box::pin(async move { Ok(migrations) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file names in `folder`, as (version, description) the way `migrate!` reads them.
    fn on_disk(folder: &str) -> Vec<(i64, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let mut found: Vec<(i64, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter_map(|name| {
                let stem = name.strip_suffix(".sql")?;
                let (version, description) = stem.split_once('_')?;
                Some((version.parse().ok()?, description.replace('_', " ")))
            })
            .collect();
        found.sort();
        found
    }

    fn listed(embedded: &[Embedded]) -> Vec<(i64, String)> {
        embedded
            .iter()
            .map(|&(version, description, _)| (version, description.to_owned()))
            .collect()
    }

    #[test]
    fn every_file_is_listed() {
        assert_eq!(listed(SQLITE), on_disk("migrations/sqlite"));
        assert_eq!(listed(POSTGRES), on_disk("migrations/postgres"));
    }

    #[test]
    fn each_listed_sql_is_its_files_text() {
        for (folder, embedded) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            for &(version, description, sql) in embedded {
                let name = format!("{version:04}_{}.sql", description.replace(' ', "_"));
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("migrations")
                    .join(folder)
                    .join(&name);
                assert_eq!(std::fs::read_to_string(&path).unwrap(), sql, "{name}");
            }
        }
    }
}
