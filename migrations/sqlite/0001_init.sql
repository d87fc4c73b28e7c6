-- Facts: record streams keyed by the platform's id, daily series keyed by
-- shop, day, input and dimension. Money and every daily value are integer
-- micros (value x 10^6) so sums are exact.
CREATE TABLE orders (
    shop          TEXT    NOT NULL,
    order_id      TEXT    NOT NULL,
    paid_at       BIGINT,
    local_day     TEXT,
    amount_micros BIGINT  NOT NULL,
    buyer_id      TEXT,
    status        TEXT    NOT NULL,
    connector     TEXT    NOT NULL,
    PRIMARY KEY (shop, order_id)
);
CREATE INDEX orders_shop_day ON orders (shop, local_day);

CREATE TABLE refunds (
    shop          TEXT    NOT NULL,
    refund_id     TEXT    NOT NULL,
    order_id      TEXT    NOT NULL,
    refunded_at   BIGINT  NOT NULL,
    local_day     TEXT    NOT NULL,
    amount_micros BIGINT  NOT NULL,
    connector     TEXT    NOT NULL,
    PRIMARY KEY (shop, refund_id)
);
CREATE INDEX refunds_shop_day ON refunds (shop, local_day);

CREATE TABLE daily_values (
    shop         TEXT   NOT NULL,
    day          TEXT   NOT NULL,
    input        TEXT   NOT NULL,
    dimension    TEXT   NOT NULL DEFAULT '',
    value_micros BIGINT NOT NULL,
    connector    TEXT   NOT NULL,
    PRIMARY KEY (shop, day, input, dimension)
);

-- Bad records kept aside for inspection, one row per place in a source.
CREATE TABLE rejects (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    connector  TEXT   NOT NULL,
    source     TEXT   NOT NULL,
    locator    TEXT   NOT NULL,
    reason     TEXT   NOT NULL,
    raw        TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    UNIQUE (connector, source, locator)
);

-- Files already imported, so an unchanged file is skipped.
CREATE TABLE imported_files (
    connector   TEXT   NOT NULL,
    path        TEXT   NOT NULL,
    sha256      TEXT   NOT NULL,
    rows        BIGINT NOT NULL,
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (connector, path)
);

-- Incremental state per connector and stream (cursor or last window end).
CREATE TABLE connector_state (
    connector  TEXT   NOT NULL,
    stream     TEXT   NOT NULL,
    cursor     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (connector, stream)
);

-- Snapshots are append-only: a recomputation that changes a value adds a revision.
CREATE TABLE snapshots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    shop        TEXT   NOT NULL,
    period_kind TEXT   NOT NULL,
    period      TEXT   NOT NULL,
    revision    BIGINT NOT NULL,
    computed_at BIGINT NOT NULL,
    UNIQUE (shop, period_kind, period, revision)
);

CREATE TABLE snapshot_values (
    snapshot_id BIGINT NOT NULL REFERENCES snapshots (id),
    kpi         TEXT   NOT NULL,
    value       TEXT,
    target      TEXT,
    attainment  TEXT,
    score       TEXT,
    PRIMARY KEY (snapshot_id, kpi)
);
