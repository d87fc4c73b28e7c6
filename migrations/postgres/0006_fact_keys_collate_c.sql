-- Fact keys compare bytewise. Ids, shop names and YYYY-MM-DD days need no
-- linguistic order, and under a database's default collation (en_US.UTF-8,
-- even C.UTF-8) every B-tree comparison went through strcoll: about a tenth
-- of the server's CPU on a 100k-order backfill (BENCHMARKS.md). "C" orders
-- these values the same way, so queries and results do not change.
ALTER TABLE orders
    ALTER COLUMN shop TYPE TEXT COLLATE "C",
    ALTER COLUMN order_id TYPE TEXT COLLATE "C",
    ALTER COLUMN local_day TYPE TEXT COLLATE "C";
ALTER TABLE refunds
    ALTER COLUMN shop TYPE TEXT COLLATE "C",
    ALTER COLUMN refund_id TYPE TEXT COLLATE "C",
    ALTER COLUMN local_day TYPE TEXT COLLATE "C";
ALTER TABLE daily_values
    ALTER COLUMN shop TYPE TEXT COLLATE "C",
    ALTER COLUMN day TYPE TEXT COLLATE "C",
    ALTER COLUMN input TYPE TEXT COLLATE "C",
    ALTER COLUMN dimension TYPE TEXT COLLATE "C";
