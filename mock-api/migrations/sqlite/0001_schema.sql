-- The imitated platform's schema (SQLite flavour). Timestamps are RFC 3339 text so the
-- same queries read them on SQLite and PostgreSQL.
CREATE TABLE tickers (
    symbol          TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    sector          TEXT NOT NULL,
    reference_price REAL NOT NULL
);

CREATE TABLE clients (
    id           INTEGER PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    email        TEXT NOT NULL,
    risk_profile TEXT NOT NULL,
    cash_balance REAL NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE holdings (
    client_id INTEGER NOT NULL REFERENCES clients (id),
    ticker    TEXT NOT NULL REFERENCES tickers (symbol),
    quantity  INTEGER NOT NULL CHECK (quantity >= 0),
    avg_cost  REAL NOT NULL,
    PRIMARY KEY (client_id, ticker)
);

CREATE TABLE trades (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id   INTEGER NOT NULL REFERENCES clients (id),
    ticker      TEXT NOT NULL REFERENCES tickers (symbol),
    side        TEXT NOT NULL,
    quantity    INTEGER NOT NULL,
    price       REAL NOT NULL,
    order_type  TEXT NOT NULL,
    status      TEXT NOT NULL,
    executed_at TEXT NOT NULL
);
CREATE INDEX trades_by_client ON trades (client_id, id);

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    client_id   INTEGER REFERENCES clients (id),
    params      TEXT NOT NULL,
    status      TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    result      TEXT,
    error       TEXT
);
CREATE INDEX jobs_by_status ON jobs (status);
