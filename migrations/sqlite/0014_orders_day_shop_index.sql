-- Orders by day, then shop (issue 16). A file's orders arrive in time order
-- with 1,000 shops interleaved: (shop, local_day) took each row at the end
-- of its shop's range, about one index leaf per shop dirtied in every
-- transaction, so past ~100k rows the dirty leaves of it and the primary key
-- outgrew the page cache and an import's cost per row more than doubled.
-- (local_day, shop) takes them at the end of the current day only. Reads of
-- a day range for many shops scan the range (`INDEXED BY orders_day_shop`);
-- reads for one shop seek each day of the range (see `SHOP_ORDERS_FROM` in
-- src/store/sqlite/mod.rs).
DROP INDEX orders_shop_day;
CREATE INDEX orders_day_shop ON orders (local_day, shop);
