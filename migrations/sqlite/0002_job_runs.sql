-- One row per (job, scheduled tick): the claim that makes a tick run on
-- exactly one replica, its lease, and afterwards the run's history.
CREATE TABLE job_runs (
    job         TEXT   NOT NULL,
    tick        BIGINT NOT NULL,
    owner       TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    lease_until BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 1,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    records     BIGINT NOT NULL DEFAULT 0,
    changed     BIGINT NOT NULL DEFAULT 0,
    rejects     BIGINT NOT NULL DEFAULT 0,
    detail      TEXT   NOT NULL DEFAULT '',
    error       TEXT,
    PRIMARY KEY (job, tick)
);
CREATE INDEX job_runs_running ON job_runs (status, lease_until);
CREATE INDEX job_runs_started ON job_runs (started_at);
