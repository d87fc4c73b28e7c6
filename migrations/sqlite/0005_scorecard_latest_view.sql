-- The latest revision of every scorecard line, for dashboards and HR's own
-- SQL. Values stay exact decimal text; cast in the reader.
CREATE VIEW scorecard_latest AS
SELECT s.person, s.period_kind, s.period, s.revision, s.role, s.total, s.grade,
       s.bonus, s.reason, s.computed_at,
       l.position, l.kpi, l.value, l.target, l.attainment, l.weight, l.score
FROM scorecards s
JOIN scorecard_lines l ON l.scorecard_id = s.id
WHERE s.revision = (
    SELECT MAX(s2.revision) FROM scorecards s2
    WHERE s2.person = s.person AND s2.period_kind = s.period_kind AND s2.period = s.period
);
