-- Alerts (issue 13): the state of every (rule, scope, KPI), its history,
-- silences, and the outbox through which every notification is sent.
-- Numbers are exact decimal text; times are Unix seconds.
CREATE TABLE alerts (
    id               BIGSERIAL PRIMARY KEY,
    rule             TEXT   NOT NULL,
    scope_kind       TEXT   NOT NULL,
    scope_id         TEXT   NOT NULL,
    kpi              TEXT   NOT NULL,
    period           TEXT   NOT NULL,
    state            TEXT   NOT NULL,
    -- Consecutive breaching evaluations (for `for`).
    breaches         BIGINT NOT NULL DEFAULT 0,
    period_label     TEXT   NOT NULL DEFAULT '',
    value            TEXT,
    target           TEXT,
    threshold        TEXT,
    attainment       TEXT,
    -- In the evaluation's clock (`--at`): since the current state, since it
    -- started firing, and when a notification was last decided.
    since            BIGINT NOT NULL,
    started_at       BIGINT,
    last_notified_at BIGINT,
    evaluated_at     BIGINT NOT NULL,
    -- Wall clock of the last delivery.
    last_sent_at     BIGINT,
    UNIQUE (rule, scope_kind, scope_id, kpi)
);

CREATE TABLE alert_history (
    id         BIGSERIAL PRIMARY KEY,
    alert_id   BIGINT NOT NULL REFERENCES alerts (id),
    from_state TEXT   NOT NULL,
    to_state   TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    value      TEXT,
    threshold  TEXT
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);

CREATE TABLE alert_silences (
    id         BIGSERIAL PRIMARY KEY,
    -- JSON object of label = value; all must match.
    matchers   TEXT   NOT NULL,
    starts_at  BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL,
    comment    TEXT   NOT NULL DEFAULT '',
    created_by TEXT   NOT NULL
);

-- One row per message per channel, written in the transaction that decided
-- it. `pending` rows are claimed (`sending`, with a lease) by exactly one
-- sender; a lease that runs out (a crash mid-send) lets another take it.
CREATE TABLE alert_outbox (
    id            BIGSERIAL PRIMARY KEY,
    created_at    BIGINT NOT NULL,
    channel       TEXT   NOT NULL,
    kind          TEXT   NOT NULL,
    scope         TEXT   NOT NULL DEFAULT '',
    -- Comma-separated alert ids the message is about.
    alert_ids     TEXT   NOT NULL DEFAULT '',
    message       TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    owner         TEXT,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    attempts      BIGINT NOT NULL DEFAULT 0,
    sent_at       BIGINT,
    detail        TEXT,
    error         TEXT
);
CREATE INDEX alert_outbox_status ON alert_outbox (status, id);

-- The claim row: deciding transitions takes its row lock first, so one
-- evaluation at a time decides, across replicas.
CREATE TABLE alert_evaluation_lock (
    id           BIGINT NOT NULL PRIMARY KEY,
    evaluated_at BIGINT NOT NULL,
    owner        TEXT   NOT NULL DEFAULT ''
);
INSERT INTO alert_evaluation_lock (id, evaluated_at) VALUES (1, 0);
