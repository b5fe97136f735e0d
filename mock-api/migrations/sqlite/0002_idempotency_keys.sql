-- Idempotency keys of POST /api/trading/execute: a key is claimed (trade_id NULL) and
-- then pointed at its trade in the trade's own transaction, so a key exists exactly when
-- its trade does.
CREATE TABLE idempotency_keys (
    key        TEXT PRIMARY KEY NOT NULL,
    trade_id   INTEGER REFERENCES trades (id),
    created_at TEXT NOT NULL
);
