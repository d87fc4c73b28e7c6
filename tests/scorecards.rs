//! Scorecards on both databases: every role scored on a dataset whose
//! expected totals are worked out by hand below, scope isolation, targets,
//! manual inputs, month close, appeals with revisions, and the XLSX export.
mod common;
mod helpers;

use helpers::*;
use kpid::ids::KpiId;
use kpid::kpi::FactsCache;
use kpid::period::LocalDay;
use kpid::scorecard::{self, ScorecardError};
use kpid::settings::Settings;
use kpid::setup::Setup;
use kpid::store::{ManualChange, StoredScorecard, TargetRow};
use kpid::targets::TargetBook;

const PEOPLE: &str = r#"
[[people]]
id = "li"
name = "李雷"
role = "ops_specialist"
shops = ["sh"]

[[people]]
id = "zhao"
name = "赵敏"
role = "promotion"
shops = ["sh"]
campaigns = ["brand-search"]

[[people]]
id = "wang"
name = "王芳"
role = "customer_service"
shops = ["sh"]
agents = ["agent-wang"]

[[people]]
id = "chen"
name = "陈晨"
role = "customer_service"
shops = ["sh"]
agents = ["agent-chen"]

[[people]]
id = "lead"
name = "刘强"
role = "team"
shops = ["sh"]

# ops_specialist: aov has no target on purpose (missing, not scored 0).
[[targets]]
kpi = "gmv"
period = "*"
value = "5000"

[[targets]]
kpi = "gmv"
role = "ops_specialist"
period = "2026-10..2026-12"
value = "1000"

[[targets]]
kpi = "gmv"
role = "ops_specialist"
period = "2026-01..2026-03"
value = "400"

[[targets]]
kpi = "pv"
role = "ops_specialist"
period = "*"
value = "2500"

[[targets]]
kpi = "pv_per_uv"
role = "ops_specialist"
period = "*"
value = "8"

[[targets]]
kpi = "buyers"
role = "ops_specialist"
period = "*"
value = "3"

[[targets]]
kpi = "conversion_rate"
role = "ops_specialist"
period = "*"
value = "0.02"

[[targets]]
kpi = "avg_stay_seconds"
role = "ops_specialist"
period = "*"
value = "100"

# promotion (a person's own targets)
[[targets]]
kpi = "uv"
person = "zhao"
period = "*"
value = "200"

[[targets]]
kpi = "reach_rate"
person = "zhao"
period = "*"
value = "0.6"

[[targets]]
kpi = "bounce_rate"
person = "zhao"
period = "*"
value = "0.3"

[[targets]]
kpi = "uv_cost"
person = "zhao"
period = "*"
value = "2.5"

[[targets]]
kpi = "order_cost"
person = "zhao"
period = "*"
value = "40"

[[targets]]
kpi = "ad_roi"
person = "zhao"
period = "*"
value = "2.5"

# customer_service
[[targets]]
kpi = "first_response_seconds"
role = "customer_service"
period = "*"
value = "30"

[[targets]]
kpi = "first_response_seconds"
person = "wang"
period = "2026"
value = "25"

[[targets]]
kpi = "cs_violations"
role = "customer_service"
period = "*"
value = "1"

[[targets]]
kpi = "consult_conversion_rate"
role = "customer_service"
period = "*"
value = "0.25"

[[targets]]
kpi = "cs_gmv_ratio"
role = "customer_service"
period = "*"
value = "1"

[[targets]]
kpi = "return_rate"
period = "*"
value = "0.2"

[[targets]]
kpi = "exchange_rate"
period = "*"
value = "0.1"

[[targets]]
kpi = "refund_rate"
role = "customer_service"
period = "*"
value = "0.25"

# team
[[targets]]
kpi = "gmv"
person = "lead"
period = "*"
value = "1000"

[[targets]]
kpi = "orders"
role = "team"
period = "*"
value = "5"

[[targets]]
kpi = "visits"
role = "team"
period = "*"
value = "250"

[[targets]]
kpi = "pv"
role = "team"
period = "*"
value = "2000"

[[targets]]
kpi = "ad_roi"
role = "team"
period = "*"
value = "2"

[[targets]]
kpi = "teamwork_internal"
role = "team"
period = "*"
value = "80"

[[targets]]
kpi = "teamwork_cross_dept"
role = "team"
period = "*"
value = "100"

[scoring]
holidays = ["2026-11-09"]
"#;

const ORDERS: &str = "o1,sh,2026-10-01 10:00:00,200,a,paid\n\
     o2,sh,2026-10-02 10:00:00,300,b,paid\n\
     o3,sh,2026-10-03 10:00:00,100,c,paid\n\
     o4,sh,2026-10-04 10:00:00,200,a,paid\n";

const DAILY: &str = "date,dimension,pv,uv,visits,stay_seconds_total,bounces,return_orders,ad_spend,ad_clicks,ad_arrivals,ad_uv,ad_orders,ad_gmv,cs_sessions,cs_first_response_seconds_total,cs_paid_uv,cs_gmv,cs_violations\n\
2026-10-01,,1000,100,120,12000,30,1,,,,,,,,,,,\n\
2026-10-02,,1000,100,80,8000,20,,,,,,,,,,,,\n\
2026-10-01,brand-search,,,,,,,100,200,150,50,2,300,,,,,\n\
2026-10-02,brand-search,,,,,,,100,200,150,50,2,300,,,,,\n\
2026-10-01,feed-ads,,,,,,,500,1000,900,250,5,1000,,,,,\n\
2026-10-01,agent-wang,,,,,,,,,,,,,60,1200,20,400,0\n\
2026-10-02,agent-wang,,,,,,,,,,,,,40,800,10,200,0\n\
2026-10-01,agent-chen,,,,,,,,,,,,,50,2000,10,200,2\n";

fn day(s: &str) -> LocalDay {
    LocalDay::parse_ymd(s).unwrap()
}

async fn load(db: &common::TestDb) -> Setup {
    load_with(db, PEOPLE).await
}

async fn load_with(db: &common::TestDb, config: &str) -> Setup {
    let s = settings(db, config);
    db.write("imports/orders/a.csv", &format!("{ORDERS_HEADER}{ORDERS}"));
    db.write(
        "imports/refunds/a.csv",
        &format!("{REFUNDS_HEADER}r1,o2,sh,2026-10-05 12:00:00,300\n"),
    );
    db.write("imports/daily/a.csv", DAILY);
    ingest_ok(db, &s).await;
    for (input, value) in [
        ("peer_review_internal", "85"),
        ("peer_review_cross_dept", "90"),
    ] {
        set_manual(db, "lead", input, "2026-10", value, "hr-zhou").await;
    }
    s
}

async fn set_manual(
    db: &common::TestDb,
    person: &str,
    input: &str,
    period: &str,
    value: &str,
    by: &str,
) -> Option<ManualChange> {
    db.store
        .set_manual_input(&ManualChange {
            person: person.into(),
            input: input.into(),
            period: period.into(),
            old_value: None,
            new_value: d(value),
            changed_by: by.into(),
            changed_at: 0,
            note: Some("monthly review".into()),
            source: "cli".into(),
        })
        .await
        .unwrap()
}

async fn card(db: &common::TestDb, s: &Settings, person: &str, p: &str) -> StoredScorecard {
    let book = TargetBook::load(&s.targets, &db.store).await.unwrap();
    scorecard::refresh(s, &db.store, &book, s.person(person).unwrap(), period(p))
        .await
        .unwrap()
        .unwrap()
        .card
}

fn kpi<'a>(c: &'a StoredScorecard, id: &str) -> &'a kpid::store::ScoreLine {
    c.lines
        .iter()
        .find(|l| l.kpi == id)
        .unwrap_or_else(|| panic!("{}: no line {id}", c.person))
}

/// Everyone's scorecards of a period refreshed in one pass of its own.
async fn refresh_everyone(s: &Settings, db: &common::TestDb, p: &str) -> Vec<scorecard::Refreshed> {
    scorecard::refresh_all(s, &db.store, &FactsCache::default(), period(p), None)
        .await
        .unwrap()
}

#[tokio::test]
async fn each_role_scores_and_grades_as_computed_by_hand() {
    for db in common::backends().await {
        let b = db.backend;
        let s = load(&db).await;

        // Operations specialist, the whole shop: pv 2000 / 2500 → 80;
        // pv_per_uv 10 / 8 → 1.25 capped at 1.2 → 120; buyers 3 / 3 → 100;
        // conversion 3/200 = 0.015 / 0.02 → 75; gmv 800 / 1000 (the role's
        // phase target beats everyone's every-month 5000) → 80; stay
        // 20000/200 = 100 / 100 → 100; aov has no target: missing.
        // (10·80 + 10·120 + 15·100 + 15·75 + 25·80 + 10·100) / 85 = 7625/85.
        let li = card(&db, &s, "li", "2026-10").await;
        assert_eq!(kpi(&li, "gmv").measure.target, Some(d("1000")), "{b}");
        assert_eq!(kpi(&li, "pv_per_uv").score, Some(d("120")), "{b}");
        assert_eq!(kpi(&li, "conversion_rate").score, Some(d("75")), "{b}");
        assert_eq!(kpi(&li, "aov").measure.value, Some(d("266.666667")), "{b}");
        assert_eq!(kpi(&li, "aov").score, None, "{b}");
        assert_eq!(li.missing(), vec!["aov"], "{b}");
        assert_eq!(li.total, Some(d("89.705882")), "{b}");
        assert_eq!(li.grade.as_deref(), Some("good"), "{b}");
        assert_eq!(li.bonus, Some(d("1.0")), "{b}");

        // Promotion, campaign brand-search only (feed-ads is someone else's):
        // uv 200/200 → 100; reach 300/400 = 0.75 / 0.6 → 120; bounce 0.25 vs
        // 0.3 (down) → 120; uv_cost 200/100 = 2 vs 2.5 (down) → 120;
        // order_cost 200/4 = 50 vs 40 (down) → 80; roi 600/200 = 3 / 2.5 → 120.
        // (20·100 + 15·120 + 15·120 + 20·120 + 15·80 + 15·120) / 100 = 110.
        let zhao = card(&db, &s, "zhao", "2026-10").await;
        assert_eq!(kpi(&zhao, "order_cost").measure.value, Some(d("50")), "{b}");
        assert_eq!(
            kpi(&zhao, "reach_rate").measure.value,
            Some(d("0.75")),
            "{b}"
        );
        assert_eq!(kpi(&zhao, "ad_roi").measure.value, Some(d("3")), "{b}");
        assert_eq!(zhao.total, Some(d("110")), "{b}");
        assert_eq!(zhao.grade.as_deref(), Some("excellent"), "{b}");
        assert!(zhao.missing().is_empty(), "{b}");

        // Customer service, each agent their own data; cs_gmv compared with
        // the mean of both agents (600 + 200) / 2 = 400.
        // wang: response 2000/100 = 20 s vs 30 → 120; violations 0 on a down
        // KPI → full attainment → 120; conversion 30/100 = 0.3 / 0.25 → 120;
        // gmv ratio 1.5 → 120; return 1/4 = 0.25 vs 0.2 → 80; exchange has no
        // value (missing); refund 1/4 vs 0.25 → 100.
        // (20·120 + 15·120 + 20·120 + 15·120 + 10·80 + 10·100) / 90 = 10200/90.
        let wang = card(&db, &s, "wang", "2026-10").await;
        assert_eq!(
            kpi(&wang, "first_response_seconds").measure.value,
            Some(d("20")),
            "{b}"
        );
        assert_eq!(
            kpi(&wang, "cs_violations").measure.value,
            Some(d("0")),
            "{b}"
        );
        assert_eq!(kpi(&wang, "cs_violations").score, Some(d("120")), "{b}");
        assert_eq!(
            kpi(&wang, "cs_gmv_ratio").measure.value,
            Some(d("1.5")),
            "{b}"
        );
        assert_eq!(wang.missing(), vec!["exchange_rate"], "{b}");
        assert_eq!(wang.total, Some(d("113.333333")), "{b}");
        assert_eq!(wang.grade.as_deref(), Some("excellent"), "{b}");
        // chen: 40 s → 75; 2 violations vs 1 → 50; 10/50 = 0.2 → 80; ratio
        // 0.5 → 50; return 80; refund 100: (1500 + 750 + 1600 + 750 + 800 + 1000) / 90.
        let chen = card(&db, &s, "chen", "2026-10").await;
        assert_eq!(
            kpi(&chen, "first_response_seconds").measure.value,
            Some(d("40")),
            "{b}"
        );
        assert_eq!(
            kpi(&chen, "cs_gmv_ratio").measure.value,
            Some(d("0.5")),
            "{b}"
        );
        assert_eq!(kpi(&chen, "cs_violations").score, Some(d("50")), "{b}");
        assert_eq!(chen.total, Some(d("71.111111")), "{b}");
        assert_eq!(chen.grade.as_deref(), Some("pass"), "{b}");
        assert_eq!(chen.bonus, Some(d("0.8")), "{b}");

        // Team: categories sales 40 (gmv 80, orders 4/5 → 80), satisfaction
        // 20 (return 80; positive reviews missing, so return_rate carries the
        // category), traffic 20 (visits 200/250 → 80, pv 2000/2000 → 100),
        // marketing 10 (roi of all campaigns 1600/700 = 2.285714 / 2 → 114.2857;
        // participation missing), teamwork 10 (manual reviews 85/80 → 106.25,
        // 90/100 → 90). Total = 40·80 + 20·80 + 20·90 + 10·114.2857 + 10·98.125, / 100.
        let lead = card(&db, &s, "lead", "2026-10").await;
        assert_eq!(kpi(&lead, "gmv").measure.target, Some(d("1000")), "{b}");
        assert_eq!(kpi(&lead, "gmv").weight, d("20"), "{b}");
        assert_eq!(kpi(&lead, "return_rate").weight, d("20"), "{b}");
        assert_eq!(kpi(&lead, "ad_roi").score, Some(d("114.2857")), "{b}");
        assert_eq!(
            kpi(&lead, "teamwork_internal").measure.value,
            Some(d("85")),
            "{b}"
        );
        assert_eq!(
            kpi(&lead, "teamwork_cross_dept").score,
            Some(d("90")),
            "{b}"
        );
        let mut missing = lead.missing();
        missing.sort();
        assert_eq!(
            missing,
            vec!["campaign_participation", "positive_review_rate"],
            "{b}"
        );
        assert_eq!(lead.total, Some(d("87.24107")), "{b}");
        assert_eq!(lead.grade.as_deref(), Some("good"), "{b}");

        // Recomputing unchanged data writes no new revision.
        let again = refresh_everyone(&s, &db, "2026-10").await;
        assert_eq!(again.len(), 5, "{b}");
        assert!(
            again
                .iter()
                .all(|r| !r.new_revision && r.card.revision == 1),
            "{b}"
        );

        // Phase 1 (January–March) has its own gmv target.
        let feb = card(&db, &s, "li", "2026-02").await;
        assert_eq!(kpi(&feb, "gmv").measure.target, Some(d("400")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn scorecards_score_with_the_one_cap_snapshots_use() {
    for db in common::backends().await {
        let b = db.backend;
        // `scoring.cap` is the one cap, of scorecards as of snapshots.
        let config = PEOPLE.replace("[scoring]\n", "[scoring]\ncap = \"1.5\"\n");
        let s = load_with(&db, &config).await;
        assert_eq!(s.scoring.cap, d("1.5"), "{b}");
        let li = card(&db, &s, "li", "2026-10").await;
        // pv_per_uv 10 / 8 = 1.25: under the cap of 1.5, so 125, not 120.
        assert_eq!(kpi(&li, "pv_per_uv").score, Some(d("125")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn grade_bands_meet_at_60_and_90() {
    let extra = r#"
[[roles]]
id = "seller"
name_zh = "销售"
kpis = [{ kpi = "gmv" }]

[[people]]
id = "p"
name = "P"
role = "seller"
shops = ["la"]

[[targets]]
kpi = "gmv"
period = "*"
value = "1000"
"#;
    for db in common::backends().await {
        let b = db.backend;
        let s = settings(&db, extra);
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}a,la,2026-01-10 10:00:00,599.90,x,paid\n\
                 b,la,2026-02-10 10:00:00,600.00,x,paid\n\
                 c,la,2026-03-10 10:00:00,899.90,x,paid\n\
                 e,la,2026-04-10 10:00:00,900,x,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        for (month, total, grade) in [
            ("2026-01", "59.99", "fail"),
            ("2026-02", "60", "pass"),
            ("2026-03", "89.99", "good"),
            ("2026-04", "90", "excellent"),
        ] {
            let c = card(&db, &s, "p", month).await;
            assert_eq!(c.total, Some(d(total)), "{b} {month}");
            assert_eq!(c.grade.as_deref(), Some(grade), "{b} {month}");
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn manual_inputs_are_audited() {
    for db in common::backends().await {
        let b = db.backend;
        let s = load(&db).await;
        // Setting the same value again changes and audits nothing.
        assert!(
            set_manual(
                &db,
                "lead",
                "peer_review_internal",
                "2026-10",
                "85",
                "hr-zhou"
            )
            .await
            .is_none(),
            "{b}"
        );
        let c = set_manual(
            &db,
            "lead",
            "peer_review_internal",
            "2026-10",
            "70",
            "hr-wu",
        )
        .await
        .unwrap();
        assert_eq!((c.old_value, c.new_value), (Some(d("85")), d("70")), "{b}");
        let history = db.store.manual_history(Some("lead")).await.unwrap();
        let trail: Vec<_> = history
            .iter()
            .filter(|h| h.input == "peer_review_internal")
            .map(|h| (h.old_value, h.new_value, h.changed_by.as_str()))
            .collect();
        assert_eq!(
            trail,
            vec![
                (None, d("85"), "hr-zhou"),
                (Some(d("85")), d("70"), "hr-wu")
            ],
            "{b}"
        );
        assert!(history.iter().all(|h| h.changed_at > 0), "{b}");
        let lead = card(&db, &s, "lead", "2026-10").await;
        assert_eq!(
            kpi(&lead, "teamwork_internal").measure.value,
            Some(d("70")),
            "{b}"
        );
        // A year without a yearly entry takes the mean of its months.
        set_manual(
            &db,
            "lead",
            "peer_review_internal",
            "2026-11",
            "90",
            "hr-wu",
        )
        .await;
        let year = card(&db, &s, "lead", "2026").await;
        assert_eq!(
            kpi(&year, "teamwork_internal").measure.value,
            Some(d("80")),
            "{b}"
        );
        db.drop_db().await;
    }
}

/// Runs a test's own statement, which returns no rows.
async fn execute(db: &common::TestDb, sql: &str) {
    let rows: Vec<()> = crate::fetch_rows!(db.store, sql, [], |_row| ());
    assert!(rows.is_empty(), "{sql}");
}

#[tokio::test]
async fn a_corrupt_stored_value_is_named_by_its_table_and_column() {
    for db in common::backends().await {
        let b = db.backend;
        set_manual(&db, "lead", "peer_review_internal", "2026-10", "85", "hr").await;
        set_manual(&db, "lead", "peer_review_internal", "2026-10", "70", "hr").await;
        let target = TargetRow {
            kpi: KpiId::new("gmv"),
            scope_kind: "all".into(),
            scope_id: String::new(),
            period: "2026-10".into(),
            value: d("5000"),
            file: String::new(),
            imported_at: 0,
        };
        db.store.import_targets(&[target], "t.csv").await.unwrap();
        let oct = period("2026-10");
        db.store
            .close_month(oct, day("2026-11-01"), "hr")
            .await
            .unwrap();
        // Each column spoilt alone, then put back: the reader names it.
        for (spoil, mend, expected) in [
            (
                "UPDATE manual_inputs SET value = '1,5'",
                "UPDATE manual_inputs SET value = '70'",
                "manual_inputs.value `1,5` is not a decimal",
            ),
            (
                "UPDATE manual_input_audit SET old_value = 'lots' WHERE old_value IS NOT NULL",
                "UPDATE manual_input_audit SET old_value = '85' WHERE old_value IS NOT NULL",
                "manual_input_audit.old_value `lots` is not a decimal",
            ),
            (
                "UPDATE manual_input_audit SET new_value = '' WHERE old_value IS NULL",
                "UPDATE manual_input_audit SET new_value = '85' WHERE old_value IS NULL",
                "manual_input_audit.new_value `` is not a decimal",
            ),
            (
                "UPDATE targets SET value = 'five'",
                "UPDATE targets SET value = '5000'",
                "targets.value `five` is not a decimal",
            ),
            (
                "UPDATE month_closes SET closed_on = '2026-11-31'",
                "UPDATE month_closes SET closed_on = '2026-11-01'",
                "month_closes.closed_on `2026-11-31` is not a day",
            ),
        ] {
            execute(&db, spoil).await;
            let errors = [
                db.store.manual_inputs(None).await.err(),
                db.store.manual_history(Some("lead")).await.err(),
                db.store.imported_targets().await.err(),
                db.store.month_close(oct).await.err(),
            ];
            let errors: Vec<String> = errors.iter().flatten().map(|e| e.to_string()).collect();
            assert_eq!(
                errors,
                [format!("stored value is corrupt: {expected}")],
                "{b}: {spoil}"
            );
            execute(&db, mend).await;
        }
        assert_eq!(db.store.manual_history(None).await.unwrap().len(), 2, "{b}");
        let closed = db.store.month_close(oct).await.unwrap().unwrap();
        assert_eq!(closed.closed_on, day("2026-11-01"), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn close_freezes_and_an_accepted_appeal_writes_revision_2() {
    for db in common::backends().await {
        let b = db.backend;
        let s = load(&db).await;
        let oct = period("2026-10");
        // Not before the month is over.
        let early = scorecard::close_month(&s, &db.store, oct, "hr", day("2026-10-31")).await;
        assert!(
            matches!(early, Err(ScorecardError::NotOver { .. })),
            "{b}: {early:?}"
        );
        // Appeals need a closed month.
        let not_closed =
            scorecard::open_appeal(&s, &db.store, "chen", oct, "why", day("2026-11-02")).await;
        assert!(
            matches!(not_closed, Err(ScorecardError::NotClosed(_))),
            "{b}"
        );

        let closed = scorecard::close_month(&s, &db.store, oct, "hr-zhou", day("2026-11-03"))
            .await
            .unwrap();
        assert_eq!(closed.len(), 5, "{b}");
        let again = scorecard::close_month(&s, &db.store, oct, "hr", day("2026-11-04")).await;
        assert!(
            matches!(&again, Err(ScorecardError::AlreadyClosed { by, .. }) if by == "hr-zhou"),
            "{b}: {again:?}"
        );

        // A late order no longer changes the closed month.
        db.write(
            "imports/orders/b.csv",
            &format!("{ORDERS_HEADER}o9,sh,2026-10-20 10:00:00,5000,z,paid\n"),
        );
        ingest_ok(&db, &s).await;
        let frozen = card(&db, &s, "li", "2026-10").await;
        assert_eq!(
            (frozen.revision, frozen.total),
            (1, Some(d("89.705882"))),
            "{b}"
        );

        // Five working days from Tue 3 Nov, Mon 9 Nov a holiday: Wed 11 Nov.
        let late =
            scorecard::open_appeal(&s, &db.store, "chen", oct, "why", day("2026-11-12")).await;
        match late {
            Err(e @ ScorecardError::Late { .. }) => {
                assert!(e.to_string().contains("ended on 2026-11-11"), "{b}: {e}")
            }
            other => panic!("{b}: a late appeal was not refused: {other:?}"),
        }
        let id = scorecard::open_appeal(
            &s,
            &db.store,
            "chen",
            oct,
            "two violations were the system's canned reply",
            day("2026-11-11"),
        )
        .await
        .unwrap();

        let r = scorecard::resolve_appeal(
            &s,
            &db.store,
            id,
            true,
            &[("cs_violations".into(), d("0"))],
            "hr-zhou",
            "canned replies do not count",
        )
        .await
        .unwrap();
        let rev2 = r.card.unwrap();
        // cs_violations 0 → 120 instead of 50: (1500 + 1800 + 1600 + 750 + 800 + 1000) / 90.
        assert_eq!(rev2.revision, 2, "{b}");
        assert_eq!(rev2.total, Some(d("82.777778")), "{b}");
        assert_eq!(rev2.grade.as_deref(), Some("good"), "{b}");
        let stored2 = db
            .store
            .scorecard("chen", oct, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored2.revision, 2, "{b}");
        assert!(stored2.reason.starts_with(&format!("appeal #{id}")), "{b}");
        let stored1 = db
            .store
            .scorecard("chen", oct, Some(1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored1.total, Some(d("71.111111")), "{b}");
        assert_eq!(
            kpi(&stored1, "cs_violations").measure.value,
            Some(d("2")),
            "{b}"
        );

        let appeals = db.store.appeals(Some("chen"), Some(oct)).await.unwrap();
        assert_eq!(appeals.len(), 1, "{b}");
        let a = &appeals[0];
        assert_eq!(
            (a.status.as_str(), a.revision_before, a.revision_after),
            ("accepted", 1, Some(2)),
            "{b}"
        );
        assert_eq!(
            a.adjustments,
            vec![("cs_violations".into(), Some(d("2")), d("0"))],
            "{b}"
        );
        // A decided appeal cannot be decided again; a rejection writes nothing.
        let twice = scorecard::resolve_appeal(&s, &db.store, id, false, &[], "x", "y").await;
        assert!(
            matches!(twice, Err(ScorecardError::AppealDone { .. })),
            "{b}"
        );
        let id2 = scorecard::open_appeal(&s, &db.store, "wang", oct, "more", day("2026-11-10"))
            .await
            .unwrap();
        let rejected = scorecard::resolve_appeal(&s, &db.store, id2, false, &[], "hr", "no")
            .await
            .unwrap();
        assert!(!rejected.accepted, "{b}");
        assert_eq!(
            db.store
                .scorecard("wang", oct, None)
                .await
                .unwrap()
                .unwrap()
                .revision,
            1,
            "{b}"
        );

        // The annual card: annual values against the annual target, and the
        // mean of the closed months' totals (October only).
        let year = card(&db, &s, "wang", "2026").await;
        assert_eq!(
            kpi(&year, "first_response_seconds").measure.target,
            Some(d("25")),
            "{b}"
        );
        assert_eq!(year.total, Some(d("120")), "{b}");
        assert_eq!(year.monthly_mean, Some(d("113.333333")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn the_workbook_has_a_summary_and_a_sheet_per_role() {
    use calamine::{Data, Reader};
    for db in common::backends().await {
        let b = db.backend;
        let s = load(&db).await;
        refresh_everyone(&s, &db, "2026-10").await;
        let mut cards = Vec::new();
        for p in db.store.scorecard_people(period("2026-10")).await.unwrap() {
            cards.push(
                db.store
                    .scorecard(&p, period("2026-10"), None)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        let views: Vec<_> = cards
            .iter()
            .map(|c| scorecard::export::CardView::new(&s, c))
            .collect();
        let bytes = scorecard::export::workbook(&s, &views).unwrap();
        let path = db.path("cards.xlsx");
        std::fs::write(&path, bytes).unwrap();
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
        let names = wb.sheet_names();
        assert_eq!(names[0], "汇总 Summary", "{b}");
        assert!(
            names.contains(&"客服人员 customer_service".to_string()),
            "{b}: {names:?}"
        );
        assert_eq!(names.len(), 5, "{b}: {names:?}");
        let sum = wb.worksheet_range("汇总 Summary").unwrap();
        assert_eq!(
            sum.get((0, 2)),
            Some(&Data::String("姓名 Name".into())),
            "{b}"
        );
        let row = (1..sum.height())
            .find(|r| sum.get((*r, 1)) == Some(&Data::String("chen".into())))
            .expect("chen in the summary");
        assert_eq!(sum.get((row, 2)), Some(&Data::String("陈晨".into())), "{b}");
        assert_eq!(sum.get((row, 4)), Some(&Data::Float(71.111111)), "{b}");
        assert_eq!(
            sum.get((row, 5)),
            Some(&Data::String("合格 Pass".into())),
            "{b}"
        );
        assert_eq!(sum.get((row, 6)), Some(&Data::Float(0.8)), "{b}");
        assert_eq!(
            sum.get((row, 8)),
            Some(&Data::String("exchange_rate".into())),
            "{b}"
        );

        let cs = wb.worksheet_range("客服人员 customer_service").unwrap();
        assert_eq!(
            cs.get((0, 2)),
            Some(&Data::String("及时响应时间 First response time".into())),
            "{b}: {:?}",
            cs.get((0, 2))
        );
        assert_eq!(
            cs.get((1, 2)),
            Some(&Data::String("实际 Value".into())),
            "{b}"
        );
        let chen = (2..cs.height())
            .find(|r| cs.get((*r, 0)) == Some(&Data::String("chen".into())))
            .unwrap();
        // First response: value 40, target 30, weight 20, score 75.
        assert_eq!(cs.get((chen, 2)), Some(&Data::Float(40.0)), "{b}");
        assert_eq!(cs.get((chen, 3)), Some(&Data::Float(30.0)), "{b}");
        assert_eq!(cs.get((chen, 4)), Some(&Data::Float(20.0)), "{b}");
        assert_eq!(cs.get((chen, 5)), Some(&Data::Float(75.0)), "{b}");
        db.drop_db().await;
    }
}

fn kpid(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_kpid"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("KPID_CONFIG")
        .env_remove("KPID_LOG")
        .env_remove("KPID_STORAGE__URL")
        .output()
        .expect("the kpid binary runs");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn the_command_line_imports_closes_appeals_and_reports() {
    for db in common::backends().await {
        let b = db.backend;
        let _ = load(&db).await;
        let config = db.path("kpid.toml");
        let run = |args: &[&str]| kpid(&config, args);

        // Targets in bulk: one good row, two bad ones kept aside.
        let file = db.write(
            "targets.csv",
            "kpi,period,value,shop,person,role\n\
             aov,2026-10,250,,li,\n\
             nope,2026-10,1,,,\n\
             gmv,2026-09..2026-11,900,,,ops_specialist\n",
        );
        let (ok, out, err) = run(&["targets", "import", file.to_str().unwrap()]);
        assert!(!ok, "{b}: rejected rows make the import exit non-zero");
        assert!(
            out.contains("line 3: `kpi`: unknown KPI `nope`"),
            "{b}: {out}"
        );
        assert!(
            out.contains("line 4: the months 2026-09..2026-11 overlap 2026-10..2026-12"),
            "{b}: {out}"
        );
        assert!(err.contains("2 row(s)"), "{b}: {err}");
        let rejects = db.store.rejects("targets-import").await.unwrap();
        assert_eq!(rejects.len(), 2, "{b}");
        // Fixed and imported again: the file's old rejects are gone.
        std::fs::write(
            &file,
            "kpi,period,value,shop,person,role\naov,2026-10,250,,li,\n",
        )
        .unwrap();
        let (ok, out, err) = run(&["targets", "import", file.to_str().unwrap()]);
        assert!(ok, "{b}: {out}\n{err}");
        let rejects = db.store.rejects("targets-import").await.unwrap();
        assert!(rejects.is_empty(), "{b}: {rejects:#?}");
        let (ok, out, _) = run(&["targets", "list", "--format", "json"]);
        assert!(ok, "{b}");
        let list = json(&out);
        let aov = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kpi"] == "aov")
            .unwrap();
        assert_eq!(
            (aov["scope"].as_str(), aov["scope_id"].as_str()),
            (Some("person"), Some("li")),
            "{b}"
        );
        assert!(
            aov["source"].as_str().unwrap().starts_with("import "),
            "{b}"
        );

        let (ok, out, err) = run(&[
            "input",
            "set",
            "--person",
            "lead",
            "--input",
            "peer_review_internal",
            "--period",
            "2026-10",
            "--value",
            "95",
            "--by",
            "hr-wu",
            "--note",
            "re-surveyed",
        ]);
        assert!(ok, "{b}: {err}");
        assert!(out.contains("85 → 95 (by hr-wu)"), "{b}: {out}");
        let (ok, _, err) = run(&[
            "input",
            "set",
            "--person",
            "nobody",
            "--input",
            "peer_review_internal",
            "--period",
            "2026-10",
            "--value",
            "95",
            "--by",
            "hr",
        ]);
        assert!(!ok && err.contains("no person `nobody`"), "{b}: {err}");
        let (ok, out, _) = run(&["input", "list", "--history", "--person", "lead"]);
        assert!(
            ok && out.contains("hr-wu") && out.contains("re-surveyed"),
            "{b}: {out}"
        );

        let (ok, out, err) = run(&["compute", "--month", "2026-10"]);
        assert!(ok, "{b}: {err}");
        assert!(
            out.contains("scorecard li 2026-10: revision 1 (new)"),
            "{b}: {out}"
        );

        // li's aov is now scored: 266.666667 / 250 → 106.6667, so
        // (7625 + 15 · 106.6667) / 100.
        let (ok, out, err) = run(&[
            "report",
            "--scorecards",
            "--month",
            "2026-10",
            "--person",
            "li",
            "--format",
            "json",
        ]);
        assert!(ok, "{b}: {err}");
        let li = json(&out);
        assert_eq!(li["total"].to_string(), "92.250005", "{b}");
        assert_eq!(li["grade"], "excellent", "{b}");
        assert_eq!(li["bonus_coefficient"].to_string(), "1.2", "{b}");
        assert_eq!(li["role"], "ops_specialist", "{b}");
        assert_eq!(li["revision"], 1, "{b}");
        assert_eq!(li["missing"], serde_json::json!([]), "{b}");
        let keys: Vec<&str> = li.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "period",
                "person",
                "role",
                "revision",
                "total",
                "grade",
                "bonus_coefficient",
                "kpis",
                "missing"
            ],
            "{b}"
        );
        let gmv = li["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == "gmv")
            .unwrap();
        assert_eq!(
            gmv.to_string(),
            r#"{"id":"gmv","value":800,"target":1000,"attainment":0.8,"weight":25,"score":80}"#,
            "{b}"
        );

        // September has scorecards and was never closed: check warns.
        assert!(run(&["compute", "--month", "2026-09"]).0, "{b}");
        let (ok, out, err) = run(&["close", "--month", "2026-10", "--by", "hr-zhou"]);
        assert!(ok, "{b}: {err}");
        assert!(out.contains("2026-10 closed by hr-zhou"), "{b}: {out}");
        let (ok, out, _) = run(&["check"]);
        assert!(ok, "{b}");
        assert!(
            out.contains("2026-09 is not closed and was due by 2026-10-05"),
            "{b}: {out}"
        );
        assert!(!out.contains("2026-10 is not closed"), "{b}: {out}");

        let (ok, out, err) = run(&[
            "appeal",
            "open",
            "--person",
            "chen",
            "--month",
            "2026-10",
            "--reason",
            "canned replies",
        ]);
        assert!(ok, "{b}: {err}");
        let id = out
            .split('#')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let (ok, out, err) = run(&[
            "appeal",
            "resolve",
            &id,
            "--accept",
            "--set",
            "cs_violations=0",
            "--by",
            "hr-zhou",
            "--note",
            "not the agent's words",
        ]);
        assert!(ok, "{b}: {err}");
        assert!(
            out.contains("revision 2 (total 82.78, grade good)"),
            "{b}: {out}"
        );
        let (ok, out, _) = run(&[
            "report",
            "--scorecards",
            "--month",
            "2026-10",
            "--person",
            "chen",
            "--revision",
            "1",
            "--format",
            "json",
        ]);
        assert!(ok, "{b}");
        let r1 = json(&out);
        assert_eq!(
            (r1["revision"].as_i64(), r1["total"].to_string()),
            (Some(1), "71.111111".into()),
            "{b}"
        );
        let (ok, out, _) = run(&["appeal", "list", "--format", "json"]);
        assert!(ok, "{b}");
        let appeals = json(&out);
        assert_eq!(appeals[0]["status"], "accepted", "{b}");
        assert_eq!(appeals[0]["revision_after"], 2, "{b}");
        assert_eq!(appeals[0]["adjustments"][0]["old"], 2, "{b}");

        let (ok, out, _) = run(&["report", "--scorecards", "--month", "2026-10"]);
        assert!(ok, "{b}");
        assert!(
            out.contains("陈晨 (chen)") && out.contains("良好 Good"),
            "{b}: {out}"
        );
        assert!(out.contains("奖金系数 Bonus coefficient 1"), "{b}: {out}");
        let (ok, out, _) = run(&[
            "report",
            "--scorecards",
            "--month",
            "2026-10",
            "--format",
            "csv",
        ]);
        assert!(
            ok && out.starts_with("period,person,name,role,revision,kpi"),
            "{b}: {out}"
        );
        let xlsx = db.path("hr.xlsx");
        let (ok, _, err) = run(&[
            "report",
            "--scorecards",
            "--month",
            "2026-10",
            "--format",
            "xlsx",
            "--output",
            xlsx.to_str().unwrap(),
        ]);
        assert!(ok, "{b}: {err}");
        use calamine::Reader;
        let wb: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
        assert_eq!(wb.sheet_names().len(), 5, "{b}");
        let (ok, _, err) = run(&["report", "--month", "2026-10", "--format", "xlsx"]);
        assert!(!ok && err.contains("--scorecards"), "{b}: {err}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn bulk_files_of_targets_and_manual_inputs_keep_good_rows() {
    for db in common::backends().await {
        let b = db.backend;
        let _ = load(&db).await;
        let config = db.path("kpid.toml");
        // An XLSX of targets as HR would type it: `2026-11` becomes a date cell.
        let path = db.path("targets.xlsx");
        let mut wb = rust_xlsxwriter::Workbook::new();
        let sheet = wb.add_worksheet();
        for (c, h) in ["KPI", "Period", "Value", "Person"].iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        sheet.write_string(1, 0, "aov").unwrap();
        let nov = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 11, 1).unwrap();
        sheet
            .write_datetime_with_format(
                1,
                1,
                &nov,
                &rust_xlsxwriter::Format::new().set_num_format("yyyy-mm"),
            )
            .unwrap();
        sheet.write_number(1, 2, 260.5).unwrap();
        sheet.write_string(1, 3, "li").unwrap();
        sheet.write_string(2, 0, "aov").unwrap();
        sheet.write_string(2, 1, "2026-12").unwrap();
        sheet.write_string(2, 2, "lots").unwrap();
        sheet.write_string(2, 3, "li").unwrap();
        wb.save(&path).unwrap();
        let (ok, out, _) = kpid(&config, &["targets", "import", path.to_str().unwrap()]);
        assert!(!ok, "{b}: {out}");
        assert!(
            out.contains("line 3: `value`: `lots` is not a decimal number"),
            "{b}: {out}"
        );
        let s = settings(&db, PEOPLE);
        let book = TargetBook::load(&s.targets, &db.store).await.unwrap();
        let scopes = s.person("li").unwrap().target_scopes();
        assert_eq!(
            book.lookup("aov", period("2026-11"), &scopes),
            Some(d("260.5")),
            "{b}"
        );
        assert_eq!(book.lookup("aov", period("2026-12"), &scopes), None, "{b}");

        let inputs = db.write(
            "inputs.csv",
            "person,input,period,value,note\n\
             wang,csat_score,2026-10,4.8,survey\n\
             wang,peer_review_internal,2026-10,130,\n\
             ghost,csat_score,2026-10,4,\n\
             chen,csat_score,2026,4.5,annual survey\n",
        );
        let (ok, out, err) = kpid(
            &config,
            &[
                "input",
                "import",
                inputs.to_str().unwrap(),
                "--by",
                "hr-zhou",
            ],
        );
        assert!(!ok, "{b}: rejected rows make the import exit non-zero");
        assert!(out.contains("4 rows, 2 changed, 2 rejected"), "{b}: {out}");
        assert!(
            out.contains("line 3: `value`: 130 is above 100"),
            "{b}: {out}"
        );
        assert!(
            out.contains("line 4: `person`: no person `ghost`"),
            "{b}: {out}"
        );
        assert!(err.contains("the others were imported"), "{b}: {err}");
        let manual = db.store.manual_inputs(None).await.unwrap();
        let wang = manual.iter().find(|m| m.person == "wang").unwrap();
        assert_eq!(
            (wang.value, wang.updated_by.as_str()),
            (d("4.8"), "hr-zhou"),
            "{b}"
        );
        assert!(
            manual
                .iter()
                .any(|m| m.person == "chen" && m.period == "2026"),
            "{b}"
        );
        let history = db.store.manual_history(Some("wang")).await.unwrap();
        assert!(history[0].source.ends_with("inputs.csv"), "{b}");
        assert_eq!(
            db.store.rejects("input-import").await.unwrap().len(),
            2,
            "{b}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn the_nightly_job_refreshes_scorecards_of_the_shops_people() {
    for db in common::backends().await {
        let b = db.backend;
        let s = load(&db).await;
        // On 2 November the nightly job covers 1 November, November, 2026
        // and (first week) October.
        kpid::jobs::snapshot_shop(&s, &db.store, s.shop("sh").unwrap(), day("2026-11-02"))
            .await
            .unwrap();
        for p in ["2026-10", "2026-11", "2026"] {
            let people = db.store.scorecard_people(period(p)).await.unwrap();
            assert_eq!(people.len(), 5, "{b} {p}: {people:?}");
        }
        let li = db
            .store
            .scorecard("li", period("2026-10"), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(li.total, Some(d("89.705882")), "{b}");
        // Days are not assessed.
        assert!(
            db.store
                .scorecard_people(period("2026-11-01"))
                .await
                .unwrap()
                .is_empty(),
            "{b}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn scorecards_score_a_negative_growth_target_by_distance() {
    for db in common::backends().await {
        let s = settings(
            &db,
            r#"
[[roles]]
id = "growth"
kpis = [{ kpi = "gmv_growth_mom", weight = 1 }]

[[people]]
id = "li"
name = "李雷"
role = "growth"
shops = ["sh"]

[[targets]]
kpi = "gmv_growth_mom"
person = "li"
period = "*"
value = "-0.1"
"#,
        );
        let b = db.backend;
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}o1,sh,2026-09-10 10:00:00,2000,a,paid\n\
                 o2,sh,2026-10-10 10:00:00,1590,b,paid\n\
                 o3,sh,2026-11-10 10:00:00,1721.97,c,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        let oct = card(&db, &s, "li", "2026-10").await;
        let l = kpi(&oct, "gmv_growth_mom");
        assert_eq!(l.measure.value, Some(d("-0.205")), "{b}");
        assert_eq!(
            (l.measure.attainment, l.score),
            (Some(d("0")), Some(d("0"))),
            "{b}"
        );
        assert_eq!(oct.total, Some(d("0")), "{b}");
        let nov = card(&db, &s, "li", "2026-11").await;
        let l = kpi(&nov, "gmv_growth_mom");
        assert_eq!(l.measure.value, Some(d("0.083")), "{b}");
        assert_eq!(
            (l.measure.attainment, l.score),
            (Some(d("2.83")), Some(d("120"))),
            "{b}"
        );
        // An appeal's re-score uses the same rule: −0.15 is half a target's width short.
        let re = scorecard::rescore(&s, &nov, &[("gmv_growth_mom".into(), d("-0.15"))]);
        let l = kpi(&re, "gmv_growth_mom");
        assert_eq!(
            (l.measure.attainment, l.score),
            (Some(d("0.5")), Some(d("50"))),
            "{b}"
        );
        db.drop_db().await;
    }
}

/// `li` covers the CNY shop `sh` and the USD shop `la`; `mei` only `la`.
const TWO_CURRENCIES: &str = r#"
[[connectors]]
name = "daily_la"
kind = "csv"
stream = "daily"
shop = "la"
path = "{dir}/imports/daily_la/*.csv"

[[kpis]]
id = "spend"
formula = "ad_spend"
unit = "money"
direction = "down"
category = "marketing"

[[roles]]
id = "owner"
kpis = [{ kpi = "gmv", weight = 1 }, { kpi = "spend", weight = 1 }, { kpi = "aov", weight = 1 }]

[[people]]
id = "li"
name = "李雷"
role = "owner"
shops = ["sh", "la"]

[[people]]
id = "mei"
name = "Mei"
role = "owner"
shops = ["la"]
"#;

async fn two_currencies(db: &common::TestDb, currency: &str) -> Setup {
    let s = settings(db, &format!("{TWO_CURRENCIES}\n{currency}"));
    db.write(
        "imports/orders/a.csv",
        &format!(
            "{ORDERS_HEADER}\
             s1,sh,2026-10-10 10:00:00,1000,a,paid\n\
             l1,la,2026-10-10 10:00:00,100,b,paid\n\
             s2,sh,2026-11-10 10:00:00,500,c,paid\n\
             l2,la,2026-11-10 10:00:00,10,d,paid\n"
        ),
    );
    db.write("imports/daily/a.csv", "date,ad_spend\n2026-10-03,5\n");
    db.write("imports/daily_la/a.csv", "date,ad_spend\n2026-10-03,10\n");
    ingest_ok(db, &s).await;
    s
}

fn gmv_spend_aov(c: &StoredScorecard) -> [Option<rust_decimal::Decimal>; 3] {
    ["gmv", "spend", "aov"].map(|k| kpi(c, k).measure.value)
}

#[tokio::test]
async fn money_of_two_currencies_is_converted_at_the_configured_rate() {
    for db in common::backends().await {
        let b = db.backend;
        let s = two_currencies(
            &db,
            "[currency]\nbase = \"CNY\"\n\n[[currency.rates]]\nfrom = \"USD\"\nmonth = \"2026-10\"\nrate = \"7.12\"\n",
        )
        .await;
        // 1000 CNY + 100 USD × 7.12; ad spend 5 CNY + 10 USD × 7.12; two buyers.
        let oct = card(&db, &s, "li", "2026-10").await;
        assert_eq!(
            gmv_spend_aov(&oct),
            [Some(d("1712")), Some(d("76.2")), Some(d("856"))],
            "{b}"
        );
        // November has no USD rate: no money value, never a sum of CNY and USD.
        let nov = card(&db, &s, "li", "2026-11").await;
        assert_eq!(gmv_spend_aov(&nov), [None, None, None], "{b}");
        assert_eq!(kpi(&nov, "gmv").score, None, "{b}");
        // A year needs every month's rate.
        let year = card(&db, &s, "li", "2026").await;
        assert_eq!(kpi(&year, "gmv").measure.value, None, "{b}");
        // One currency adds as it is (USD).
        let mei = card(&db, &s, "mei", "2026-11").await;
        assert_eq!(kpi(&mei, "gmv").measure.value, Some(d("10")), "{b}");
        // Shop snapshots stay in the shop's own currency.
        let la = compute(&db, &s, "la", "2026-10").await;
        assert_eq!(value(&la.kpis, "gmv"), Some(d("100")), "{b}");

        // The report says which rate it used, and why November has no value.
        let config = db.path("kpid.toml");
        let (ok, out, err) = kpid(
            &config,
            &[
                "report",
                "--scorecards",
                "--month",
                "2026-10",
                "--person",
                "li",
            ],
        );
        assert!(ok, "{b}: {err}");
        assert!(
            out.contains("money in CNY, converted at USD 2026-10 × 7.12"),
            "{b}: {out}"
        );
        assert!(out.contains("1712.00"), "{b}: {out}");
        let (ok, out, err) = kpid(
            &config,
            &[
                "report",
                "--scorecards",
                "--month",
                "2026-11",
                "--person",
                "li",
            ],
        );
        assert!(ok, "{b}: {err}");
        assert!(out.contains("no rate for USD→CNY 2026-11"), "{b}: {out}");
        let (ok, out, err) = kpid(
            &config,
            &[
                "report",
                "--scorecards",
                "--month",
                "2026-10",
                "--person",
                "li",
                "--format",
                "json",
            ],
        );
        assert!(ok, "{b}: {err}");
        let li = json(&out);
        assert_eq!(
            li["money"], "money in CNY, converted at USD 2026-10 × 7.12",
            "{b}"
        );
        assert_eq!(li["kpis"][0]["value"].to_string(), "1712", "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn money_of_two_currencies_without_a_base_has_no_value_and_a_warning() {
    for db in common::backends().await {
        let b = db.backend;
        let s = two_currencies(&db, "").await;
        let oct = card(&db, &s, "li", "2026-10").await;
        assert_eq!(
            gmv_spend_aov(&oct),
            [None, None, None],
            "{b}: 1000 CNY + 100 USD is no number"
        );
        let config = db.path("kpid.toml");
        let (ok, out, err) = kpid(&config, &["check"]);
        assert!(ok, "{b}: {err}");
        assert!(
            out.contains("person `li`") && out.contains("no `[currency] base`"),
            "{b}: {out}"
        );
        db.drop_db().await;
    }
}

#[test]
fn currency_settings_are_checked_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.toml");
    std::fs::write(
        &path,
        "[[shops]]\nid = \"sh\"\n\n[currency]\nbase = \"CNY\"\n\n\
         [[currency.rates]]\nfrom = \"usd\"\nmonth = \"2026-10\"\nrate = \"7.12\"\n\n\
         [[currency.rates]]\nfrom = \"EUR\"\nmonth = \"2026-13\"\nrate = \"-1\"\n",
    )
    .unwrap();
    let (ok, _, err) = kpid(&path, &["check"]);
    assert!(!ok, "{err}");
    let file = path.display().to_string();
    for expected in [
        format!("{file}:8: `currency.rates[0].from`: `usd` is not an ISO 4217 code"),
        format!("{file}:14: `currency.rates[1].month`"),
        format!("{file}:15: `currency.rates[1].rate`: `-1` must be above 0"),
    ] {
        assert!(err.contains(&expected), "`{expected}` in\n{err}");
    }
}
