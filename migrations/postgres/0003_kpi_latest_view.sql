-- The latest revision of every snapshot line: what dashboards and ad-hoc SQL
-- read. Values stay exact decimal text; cast in the reader (NUMERIC in PostgreSQL).
CREATE VIEW kpi_latest AS
SELECT s.shop, s.period_kind, s.period, s.revision, s.computed_at,
       v.kpi, v.value, v.target, v.attainment, v.score
FROM snapshots s
JOIN snapshot_values v ON v.snapshot_id = s.id
WHERE s.revision = (
    SELECT MAX(s2.revision) FROM snapshots s2
    WHERE s2.shop = s.shop AND s2.period_kind = s.period_kind AND s2.period = s.period
);
