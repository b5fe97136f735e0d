-- The imitated platform's schema (PostgreSQL flavour). Timestamps are RFC 3339 text so
-- the same queries read them on SQLite and PostgreSQL.
CREATE TABLE tickers (
    symbol          TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    sector          TEXT NOT NULL,
    reference_price DOUBLE PRECISION NOT NULL
);

CREATE TABLE clients (
    id           BIGINT PRIMARY KEY,
    name         TEXT NOT NULL,
    email        TEXT NOT NULL,
    risk_profile TEXT NOT NULL,
    cash_balance DOUBLE PRECISION NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE holdings (
    client_id BIGINT NOT NULL REFERENCES clients (id),
    ticker    TEXT NOT NULL REFERENCES tickers (symbol),
    quantity  BIGINT NOT NULL CHECK (quantity >= 0),
    avg_cost  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (client_id, ticker)
);

CREATE TABLE trades (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id   BIGINT NOT NULL REFERENCES clients (id),
    ticker      TEXT NOT NULL REFERENCES tickers (symbol),
    side        TEXT NOT NULL,
    quantity    BIGINT NOT NULL,
    price       DOUBLE PRECISION NOT NULL,
    order_type  TEXT NOT NULL,
    status      TEXT NOT NULL,
    executed_at TEXT NOT NULL
);
CREATE INDEX trades_by_client ON trades (client_id, id);

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    client_id   BIGINT REFERENCES clients (id),
    params      TEXT NOT NULL,
    status      TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    result      TEXT,
    error       TEXT
);
CREATE INDEX jobs_by_status ON jobs (status);
