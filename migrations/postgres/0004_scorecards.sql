-- Scorecards: a person's weighted KPI score for a period, append-only like
-- snapshots (a recomputation that changes something, or an accepted appeal,
-- adds a revision). Numbers are exact decimal text.
CREATE TABLE scorecards (
    id           BIGSERIAL PRIMARY KEY,
    person       TEXT   NOT NULL,
    period_kind  TEXT   NOT NULL,
    period       TEXT   NOT NULL,
    revision     BIGINT NOT NULL,
    role         TEXT   NOT NULL,
    total        TEXT,
    grade        TEXT,
    bonus        TEXT,
    monthly_mean TEXT,
    reason       TEXT   NOT NULL,
    computed_at  BIGINT NOT NULL,
    UNIQUE (person, period_kind, period, revision)
);

CREATE TABLE scorecard_lines (
    scorecard_id BIGINT NOT NULL REFERENCES scorecards (id),
    position     BIGINT NOT NULL,
    kpi          TEXT   NOT NULL,
    value        TEXT,
    target       TEXT,
    attainment   TEXT,
    weight       TEXT   NOT NULL,
    score        TEXT,
    PRIMARY KEY (scorecard_id, kpi)
);

-- A closed month's scorecards are frozen; only appeals revise them.
CREATE TABLE month_closes (
    period    TEXT   NOT NULL PRIMARY KEY,
    closed_at BIGINT NOT NULL,
    closed_on TEXT   NOT NULL,
    closed_by TEXT   NOT NULL
);

-- Inputs without an API (teamwork reviews, surveys), per person and period.
CREATE TABLE manual_inputs (
    person     TEXT   NOT NULL,
    input      TEXT   NOT NULL,
    period     TEXT   NOT NULL,
    value      TEXT   NOT NULL,
    updated_by TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    note       TEXT,
    PRIMARY KEY (person, input, period)
);

-- Every change of a manual input: who, when, old, new.
CREATE TABLE manual_input_audit (
    id         BIGSERIAL PRIMARY KEY,
    person     TEXT   NOT NULL,
    input      TEXT   NOT NULL,
    period     TEXT   NOT NULL,
    old_value  TEXT,
    new_value  TEXT   NOT NULL,
    changed_by TEXT   NOT NULL,
    changed_at BIGINT NOT NULL,
    note       TEXT,
    source     TEXT   NOT NULL
);

CREATE TABLE appeals (
    id              BIGSERIAL PRIMARY KEY,
    person          TEXT   NOT NULL,
    period          TEXT   NOT NULL,
    reason          TEXT   NOT NULL,
    opened_at       BIGINT NOT NULL,
    opened_on       TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    revision_before BIGINT NOT NULL,
    revision_after  BIGINT,
    resolved_at     BIGINT,
    resolved_by     TEXT,
    note            TEXT
);

-- KPI values set by accepted appeals; later recomputations keep them.
CREATE TABLE appeal_adjustments (
    appeal_id BIGINT NOT NULL REFERENCES appeals (id),
    kpi       TEXT   NOT NULL,
    old_value TEXT,
    new_value TEXT   NOT NULL,
    PRIMARY KEY (appeal_id, kpi)
);

-- Targets imported in bulk (`kpid targets import`); they replace configured
-- targets with the same KPI, scope and period.
CREATE TABLE targets (
    kpi         TEXT   NOT NULL,
    scope_kind  TEXT   NOT NULL,
    scope_id    TEXT   NOT NULL,
    period      TEXT   NOT NULL,
    value       TEXT   NOT NULL,
    file        TEXT   NOT NULL,
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (kpi, scope_kind, scope_id, period)
);
