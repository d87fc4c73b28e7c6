//! What callers need of storage, one trait per concern. Each database
//! implements every trait on its own pool ([`SqliteStore`](super::SqliteStore),
//! [`PgStore`](super::PgStore)); [`Store`] implements them by handing the
//! call to the database it opened, and offers each method as its own so
//! callers need not import the traits.

use super::AlertRow;
use super::{
    Appeal, DailyAggregate, DailyRow, Decisions, Delivery, JobRun, ManualChange, ManualInput,
    MonthClose, OutboxDraft, OutboxRow, RecordTotals, Result, RunResult, Silence, Store, StoredKpi,
    StoredScorecard, StoredSnapshot, TargetRow, TickClaim,
};
use crate::facts::{Batch, Reject};
use crate::ids::ShopId;
use crate::period::{Days, LocalDay, Period};
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};
use std::future::Future;

/// Declares storage traits from their methods' signatures, with the
/// delegation of [`Store`] to the database it opened: the signatures are
/// written once, and `Store` cannot fall behind a trait.
macro_rules! storage_traits {
    ($(
        $(#[$trait_meta:meta])*
        pub trait $name:ident {
            $(
                $(#[$meta:meta])*
                async fn $method:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty;
            )*
        }
    )*) => {$(
        $(#[$trait_meta])*
        pub trait $name {
            $(
                $(#[$meta])*
                fn $method(&self $(, $arg: $ty)*) -> impl Future<Output = $ret> + Send;
            )*
        }

        impl $name for Store {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> $ret {
                    match self {
                        Store::Sqlite(db) => $name::$method(db $(, $arg)*).await,
                        Store::Postgres(db) => $name::$method(db $(, $arg)*).await,
                    }
                }
            )*
        }

        impl Store {
            $(
                $(#[$meta])*
                pub async fn $method(&self $(, $arg: $ty)*) -> $ret {
                    <Self as $name>::$method(self $(, $arg)*).await
                }
            )*
        }
    )*};
}

storage_traits! {
    /// What connectors write: batches of facts, stream cursors, imported files.
    pub trait FactsWriter {
        /// Commits a batch atomically; returns the rows actually inserted or
        /// changed (re-committing the same data returns 0).
        async fn commit_batch(&self, connector: &str, batch: &Batch) -> Result<u64>;
        /// True when this exact file content was already imported at this path.
        async fn file_imported(&self, connector: &str, path: &str, sha256: &str) -> Result<bool>;
        /// Reads the stored cursor of a connector's stream.
        async fn cursor(&self, connector: &str, stream: &str) -> Result<Option<String>>;
        /// Advances a stream's cursor; call only after the window's records are committed.
        async fn set_cursor(&self, connector: &str, stream: &str, cursor: &str) -> Result<()>;
        /// The `(day, dimension)` pairs of one input a connector stored for a
        /// shop over a range of days.
        async fn daily_dimensions(
            &self,
            connector: &str,
            shop: &str,
            input: &str,
            days: Days,
        ) -> Result<Vec<(LocalDay, String)>>;
    }

    /// What KPI computation reads of the facts.
    pub trait FactsReader {
        /// True when the shop has any order record (then record-derived inputs
        /// are known, possibly zero, for every period).
        async fn shop_has_orders(&self, shop: &str) -> Result<bool>;
        /// The local days of a range on which the shop has any order record
        /// (whatever its status) or refund record: on those days records, not
        /// daily series, give the record inputs.
        async fn record_days(&self, shop: &str, days: Days) -> Result<HashSet<LocalDay>>;
        /// Paid orders, GMV and distinct buyers (a guest order is its own buyer)
        /// by the local day of payment; refunds by their own local day.
        async fn record_totals(&self, shop: &str, days: Days) -> Result<RecordTotals>;
        /// Daily series of a shop over a range, per input.
        async fn daily_aggregates(
            &self,
            shop: &str,
            days: Days,
        ) -> Result<HashMap<String, DailyAggregate>>;
        /// A shop's daily values over a range, ordered by input and day.
        async fn daily_rows(&self, shop: &str, days: Days) -> Result<Vec<DailyRow>>;
        /// Rejected records of a connector (newest first), for `kpid ingest` and tests.
        async fn rejects(&self, connector: &str) -> Result<Vec<Reject>>;

        // The same reads for many shops at once, one pass grouped by shop
        // (snapshots and scorecards of a period for every shop).

        /// [`record_totals`](FactsReader::record_totals) of each of `shops`
        /// that has a paid order or a refund in the range (the others have none).
        async fn record_totals_of(&self, shops: &[ShopId], days: Days) -> Result<HashMap<ShopId, RecordTotals>>;
        /// [`daily_rows`](FactsReader::daily_rows) of `shops`, by shop.
        async fn daily_rows_of(&self, shops: &[ShopId], days: Days) -> Result<HashMap<ShopId, Vec<DailyRow>>>;
        /// [`record_days`](FactsReader::record_days) of `shops`, by shop.
        async fn record_days_of(&self, shops: &[ShopId], days: Days) -> Result<HashMap<ShopId, HashSet<LocalDay>>>;
        /// Those of `shops` that have any order record.
        async fn shops_with_orders(&self, shops: &[ShopId]) -> Result<HashSet<ShopId>>;
        /// Those of `shops` that have any refund record.
        async fn shops_with_refunds(&self, shops: &[ShopId]) -> Result<HashSet<ShopId>>;
        /// Those of `shops` that have a daily value of one of `inputs`.
        async fn shops_with_daily_input(&self, shops: &[ShopId], inputs: &[&str]) -> Result<HashSet<ShopId>>;
    }

    /// Append-only KPI snapshots: a new revision only when a value changed.
    pub trait SnapshotStore {
        /// The latest revision (or a given one) of a shop's snapshot.
        async fn snapshot(&self, shop: &str, period: Period, revision: Option<i64>) -> Result<Option<StoredSnapshot>>;
        /// The newest period of each kind a shop has a snapshot of, with its
        /// latest revision: `(kind, period, revision, computed_at)`.
        async fn latest_snapshots(&self, shop: &str) -> Result<Vec<(String, String, i64, i64)>>;
        /// One KPI's value and target in the latest day snapshots of `days`, by day label.
        async fn day_values(
            &self,
            shop: &str,
            kpi: &str,
            days: Days,
        ) -> Result<Vec<(String, Option<Decimal>, Option<Decimal>)>>;
        /// Shops that have a snapshot for the period.
        async fn snapshot_shops(&self, period: Period) -> Result<Vec<ShopId>>;
        /// Writes `kpis` as a new revision unless the latest revision holds the
        /// same lines. Returns the revision now current and whether it is new.
        async fn write_snapshot(&self, shop: &str, period: Period, kpis: &[StoredKpi]) -> Result<(i64, bool)>;
        /// [`write_snapshot`](SnapshotStore::write_snapshot) for many shops of
        /// one period: the latest revisions read at once, the changed ones
        /// written in a transaction per batch. Returns each shop's result in
        /// the order given.
        async fn write_snapshots(&self, period: Period, snapshots: &[(ShopId, Vec<StoredKpi>)]) -> Result<Vec<(i64, bool)>>;
    }

    /// Append-only scorecards, month closes and appeals.
    pub trait ScorecardStore {
        /// The latest revision (or a given one) of a person's scorecard.
        async fn scorecard(&self, person: &str, period: Period, revision: Option<i64>) -> Result<Option<StoredScorecard>>;
        /// People with a scorecard for the period.
        async fn scorecard_people(&self, period: Period) -> Result<Vec<String>>;
        /// Writes `card` as a new revision unless the latest holds the same
        /// content (`force` writes anyway: an accepted appeal always leaves a
        /// revision). Returns the revision now current and whether it is new.
        async fn write_scorecard(&self, card: &StoredScorecard, force: bool) -> Result<(i64, bool)>;
        /// [`write_scorecard`](ScorecardStore::write_scorecard) (not forced)
        /// for many people's cards of one period: the latest revisions read
        /// at once, the changed cards written in a transaction per batch.
        /// Returns each card's result in the order given.
        async fn write_scorecards(&self, period: Period, cards: &[StoredScorecard]) -> Result<Vec<(i64, bool)>>;
        /// When and by whom a month was closed.
        async fn month_close(&self, month: Period) -> Result<Option<MonthClose>>;
        /// Records the close; `false` when the month was already closed.
        async fn close_month(&self, month: Period, on: LocalDay, by: &str) -> Result<bool>;
        /// Closed months of a year, oldest first.
        async fn closed_months(&self, year: i32) -> Result<Vec<Period>>;
        /// Opens an appeal against a closed month's scorecard; returns its id.
        async fn open_appeal(
            &self,
            person: &str,
            month: Period,
            reason: &str,
            on: LocalDay,
            revision_before: i64,
        ) -> Result<i64>;
        /// Appeals, newest first, optionally of one person or month.
        async fn appeals(&self, person: Option<&str>, month: Option<Period>) -> Result<Vec<Appeal>>;
        /// One appeal.
        async fn appeal(&self, id: i64) -> Result<Option<Appeal>>;
        /// Records the KPI values an appeal sets, before the revision is written.
        async fn add_adjustments(&self, appeal: i64, adjustments: &[(String, Option<Decimal>, Decimal)]) -> Result<()>;
        /// Ends an open appeal; `false` when it was no longer open.
        async fn resolve_appeal(
            &self,
            id: i64,
            status: &str,
            by: &str,
            note: &str,
            revision_after: Option<i64>,
        ) -> Result<bool>;
        /// The revision an accepted appeal wrote.
        async fn set_appeal_revision(&self, id: i64, revision: i64) -> Result<()>;
    }

    /// Job claims, leases and run history: each scheduled tick of each job is
    /// one row, and inserting it is the claim.
    pub trait JobClaims {
        /// Claims `(job, tick)` unless it was claimed before or another tick of
        /// the same job is still running under a live lease.
        async fn claim_tick(&self, claim: &TickClaim<'_>, lease_until: i64, now: i64) -> Result<bool>;
        /// Takes over a tick whose owner stopped renewing its lease (or released it).
        async fn take_over(&self, claim: &TickClaim<'_>, lease_until: i64, now: i64) -> Result<bool>;
        /// Extends a lease; false when it was lost to another replica.
        async fn renew_lease(&self, claim: &TickClaim<'_>, lease_until: i64) -> Result<bool>;
        /// Records how the run ended and releases its lease. An `interrupted`
        /// run's lease is expired at once so another replica can redo it.
        async fn finish_tick(&self, claim: &TickClaim<'_>, r: &RunResult, now: i64) -> Result<()>;
        /// Ticks whose lease ran out while running, oldest first.
        async fn expired_ticks(&self, now: i64) -> Result<Vec<(String, i64)>>;
        /// How many live leases `owner` holds (for graceful-shutdown checks).
        async fn leases_held_by(&self, owner: &str, now: i64) -> Result<i64>;
        /// The latest runs, newest first.
        async fn recent_runs(&self, job: Option<&str>, limit: i64) -> Result<Vec<JobRun>>;
        /// A page of runs, newest first, that come after `cursor` (the
        /// `started_at` and job of the previous page's last run) in that order.
        async fn runs_after(&self, job: Option<&str>, cursor: Option<(i64, &str)>, limit: i64) -> Result<Vec<JobRun>>;
        /// Every tick of a job with how often it ran (for exactly-once checks).
        async fn tick_attempts(&self, job: &str) -> Result<Vec<(i64, i64, String)>>;
    }

    /// Alert state, silences and the notification outbox (deciding is
    /// [`AlertDecisions`]).
    pub trait AlertState {
        /// Writes a notification that no evaluation decided (a digest, a test).
        async fn enqueue_notification(&self, clock: i64, draft: &OutboxDraft) -> Result<i64>;
        /// Every stored alert.
        async fn alerts(&self) -> Result<Vec<AlertRow>>;
        /// Ids of notifications to send: pending, or claimed by a sender whose
        /// lease ran out (it crashed mid-send).
        async fn outbox_due(&self, now: i64) -> Result<Vec<i64>>;
        /// Claims one notification for `owner` until `until`; `None` when
        /// another sender has it or it is done. The conditional update is the
        /// claim, so two replicas never both send a row.
        async fn claim_notification(&self, id: i64, owner: &str, until: i64, now: i64) -> Result<Option<OutboxRow>>;
        /// Records how a claimed notification ended (`sent` or `failed`); a
        /// sent one stamps its alerts' `last_sent_at`.
        async fn finish_notification(&self, row: &OutboxRow, owner: &str, outcome: Delivery<'_>, now: i64) -> Result<()>;
        /// The latest notifications, newest first.
        async fn notifications(&self, limit: i64) -> Result<Vec<OutboxRow>>;
        /// A page of notifications, newest first, older than id `before`.
        async fn notifications_before(&self, before: Option<i64>, limit: i64) -> Result<Vec<OutboxRow>>;
        /// Stores a silence; returns its id.
        async fn add_silence(&self, s: &Silence) -> Result<i64>;
        /// Silences not yet ended at `now`, oldest first.
        async fn silences(&self, now: i64) -> Result<Vec<Silence>>;
        /// Ends a silence now; false when there is no such silence still active.
        async fn expire_silence(&self, id: i64, now: i64) -> Result<bool>;
    }

    /// Manual inputs with their audit trail, and imported targets.
    pub trait ManualInputs {
        /// Sets a manual input and audits the change in one transaction. Setting
        /// the value it already has changes nothing and audits nothing.
        async fn set_manual_input(&self, change: &ManualChange) -> Result<Option<ManualChange>>;
        /// A person's manual inputs (every person's when `None`).
        async fn manual_inputs(&self, person: Option<&str>) -> Result<Vec<ManualInput>>;
        /// The audit trail, oldest first.
        async fn manual_history(&self, person: Option<&str>) -> Result<Vec<ManualChange>>;
        /// Stores imported targets (replacing earlier imports of the same key)
        /// in one transaction; returns how many rows changed.
        async fn import_targets(&self, targets: &[TargetRow], file: &str) -> Result<u64>;
        /// Every imported target, by KPI, scope and period.
        async fn imported_targets(&self) -> Result<Vec<TargetRow>>;
    }
}

/// Deciding alerts: one transaction under the evaluation lock (apart from
/// [`AlertState`] because its decision is a closure the macro cannot carry).
pub trait AlertDecisions {
    /// Decides one evaluation under the evaluation lock: `decide` gets the
    /// stored alerts and the silences active at `clock`, and what it returns
    /// is written in the same transaction.
    fn decide_alerts<R: Send>(
        &self,
        evaluated_at: i64,
        clock: i64,
        owner: &str,
        decide: impl FnOnce(Vec<AlertRow>, Vec<Silence>) -> (Decisions, R) + Send,
    ) -> impl Future<Output = Result<R>> + Send;
}

impl AlertDecisions for Store {
    async fn decide_alerts<R: Send>(
        &self,
        evaluated_at: i64,
        clock: i64,
        owner: &str,
        decide: impl FnOnce(Vec<AlertRow>, Vec<Silence>) -> (Decisions, R) + Send,
    ) -> Result<R> {
        match self {
            Store::Sqlite(db) => db.decide_alerts(evaluated_at, clock, owner, decide).await,
            Store::Postgres(db) => db.decide_alerts(evaluated_at, clock, owner, decide).await,
        }
    }
}
