//! Snapshots and scorecards of many shops read set-based (one pass grouped
//! by shop) give exactly the numbers of one shop (one person) at a time.
mod common;
mod helpers;

use helpers::*;
use kpid::kpi::inputs::{FactsCache, ShopFacts, RECORD_INPUTS};
use kpid::scorecard;
use kpid::settings::Shop;
use kpid::targets::roles::Person;
use kpid::targets::TargetBook;

/// Shops that cover the cases of `ShopFacts`: `sh` has order and refund
/// records and a daily series that also carries record inputs (records
/// win on their days); `la` is in another zone and currency; `dz` has only
/// daily sales (its buyers over a month are unknowable) and no refund
/// source; `rf` has refunds but no order; `nil` has nothing at all.
const CONFIG: &str = r#"
timezone = "Asia/Shanghai"

[storage]
url = "{db}"

[[shops]]
id = "sh"

[[shops]]
id = "la"
timezone = "America/Los_Angeles"
currency = "USD"

[[shops]]
id = "dz"

[[shops]]
id = "rf"

[[shops]]
id = "nil"

[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
path = "{dir}/imports/orders/*.csv"

[[connectors]]
name = "refunds-sh"
kind = "csv"
stream = "refunds"
shop = "sh"
path = "{dir}/imports/refunds-sh/*.csv"

[[connectors]]
name = "refunds-la"
kind = "csv"
stream = "refunds"
shop = "la"
path = "{dir}/imports/refunds-la/*.csv"

[[connectors]]
name = "refunds-rf"
kind = "csv"
stream = "refunds"
shop = "rf"
path = "{dir}/imports/refunds-rf/*.csv"

[[connectors]]
name = "daily-sh"
kind = "csv"
stream = "daily"
shop = "sh"
path = "{dir}/imports/daily-sh/*.csv"

[[connectors]]
name = "daily-dz"
kind = "csv"
stream = "daily"
shop = "dz"
path = "{dir}/imports/daily-dz/*.csv"

[[targets]]
kpi = "gmv"
shop = "sh"
period = "2026-10"
value = 1000

[[targets]]
kpi = "gmv"
period = "2026-10"
value = 300

[[targets]]
kpi = "orders"
period = "*"
value = 3

[[targets]]
kpi = "refund_rate"
period = "*"
value = "0.1"

[[people]]
id = "both"
name = "Both"
role = "ops_specialist"
shops = ["sh", "la"]

[[people]]
id = "daily"
name = "Daily"
role = "ops_specialist"
shops = ["dz"]

[[people]]
id = "mixed"
name = "Mixed"
role = "ops_specialist"
shops = ["nil", "rf", "sh"]

[[people]]
id = "nobody"
name = "Nobody"
role = "ops_specialist"
shops = ["nil"]
"#;

const ORDERS: &str = "order_id,shop,paid_at,amount,buyer_id,status\n\
     s0,sh,2026-09-20 10:00:00,150,a,paid\n\
     s1,sh,2026-10-01 10:00:00,200,a,paid\n\
     s2,sh,2026-10-02 10:00:00,300,b,paid\n\
     s3,sh,2026-10-02 11:00:00,120,,paid\n\
     s4,sh,2026-10-05 10:00:00,90,c,cancelled\n\
     s5,sh,2026-10-07 10:00:00,200,a,paid\n\
     l0,la,2026-09-03 10:00:00,40,x,paid\n\
     l1,la,2026-10-02 10:00:00,50,x,paid\n\
     l2,la,2026-10-09 10:00:00,70,y,paid\n\
     l3,la,2026-11-01 06:00:00,10,y,paid\n";

const REFUNDS_SH: &str = "refund_id,order_id,shop,refunded_at,amount\n\
     r1,s2,sh,2026-10-03 18:00:00,100\n\
     r2,s2,sh,2026-10-04 18:00:00,50\n";

const REFUNDS_LA: &str = "refund_id,order_id,shop,refunded_at,amount\n\
     q1,l1,la,2026-10-20 18:00:00,50\n";

const REFUNDS_RF: &str = "refund_id,order_id,shop,refunded_at,amount\n\
     f1,zz,rf,2026-10-11 09:00:00,25\n";

/// Daily sales on days with records (2, 3) give way to the records; on
/// days without (4, 6) they count.
const DAILY_SH: &str = "date,shop,orders,gmv,buyers,pv,uv,visits\n\
     2026-10-02,sh,9,900,9,100,40,50\n\
     2026-10-03,sh,1,10,1,80,30,35\n\
     2026-10-04,sh,2,60,2,70,20,25\n\
     2026-10-06,sh,1,30,1,90,30,40\n\
     2026-09-30,sh,3,90,3,60,20,30\n";

const DAILY_DZ: &str = "date,shop,orders,gmv,buyers,pv,uv\n\
     2026-10-01,dz,4,400,3,500,100\n\
     2026-10-02,dz,6,300,5,400,90\n\
     2026-09-15,dz,5,250,4,300,80\n";

const PERIODS: &[&str] = &["2026-10", "2026-10-02", "2026-10-04", "2026", "2026-09"];

#[tokio::test]
async fn many_shops_at_once_compute_what_one_shop_at_a_time_computes() {
    for db in common::backends().await {
        let b = db.backend;
        let s = db.settings(CONFIG);
        db.write("imports/orders/a.csv", ORDERS);
        db.write("imports/refunds-sh/a.csv", REFUNDS_SH);
        db.write("imports/refunds-la/a.csv", REFUNDS_LA);
        db.write("imports/refunds-rf/a.csv", REFUNDS_RF);
        db.write("imports/daily-sh/a.csv", DAILY_SH);
        db.write("imports/daily-dz/a.csv", DAILY_DZ);
        ingest_ok(&db, &s).await;
        let shops: Vec<&Shop> = s.shops.iter().collect();
        // One pass's facts, shared by its snapshots and scorecards.
        let pass = FactsCache::default();
        for p in PERIODS {
            let p = period(p);
            let all = kpid::snapshot::values_many(&s, &db.store, &pass, &shops, p)
                .await
                .unwrap();
            assert_eq!(all.len(), shops.len(), "{b} {p}");
            for (shop, lines) in shops.iter().zip(&all) {
                let one = kpid::snapshot::values(&s, &db.store, shop, p)
                    .await
                    .unwrap();
                assert_eq!(&one, lines, "{b} {p} {}", shop.id);
            }
            // The set-based reads hold what the per-shop queries read.
            let ids: Vec<kpid::ids::ShopId> = shops.iter().map(|x| x.id.clone()).collect();
            let days = p.days();
            let facts = ShopFacts::load_many(&db.store, &ids, days).await.unwrap();
            for id in &ids {
                let f = &facts[id];
                let st = &db.store;
                let mut rows = st.daily_rows(id, days).await.unwrap();
                let records = if st.shop_has_orders(id).await.unwrap() {
                    let record_days = st.record_days(id, days).await.unwrap();
                    rows.retain(|r| {
                        !(RECORD_INPUTS.contains(&r.input.as_str()) && record_days.contains(&r.day))
                    });
                    Some(st.record_totals(id, days).await.unwrap())
                } else {
                    None
                };
                assert_eq!((&f.rows, &f.records), (&rows, &records), "{b} {p} {id}");
            }
            // Written all at once, then one at a time: the same revision,
            // nothing new, the same lines stored.
            let many = kpid::snapshot::compute_many(&s, &db.store, &pass, &shops, p)
                .await
                .unwrap();
            assert!(
                many.iter().all(|c| c.revision == 1 && c.new_revision),
                "{b} {p}"
            );
            for (shop, c) in shops.iter().zip(&many) {
                let one = kpid::snapshot::compute(&s, &db.store, shop, p)
                    .await
                    .unwrap();
                assert_eq!(
                    (one.revision, one.new_revision),
                    (1, false),
                    "{b} {p} {}",
                    shop.id
                );
                assert_eq!(one.kpis, c.kpis, "{b} {p} {}", shop.id);
            }
            let again =
                kpid::snapshot::compute_many(&s, &db.store, &FactsCache::default(), &shops, p)
                    .await
                    .unwrap();
            assert!(
                again.iter().all(|c| c.revision == 1 && !c.new_revision),
                "{b} {p}"
            );
        }
        // The cases above are there: records win over daily sales day by
        // day, a daily-only month has no buyers, a shop without refund
        // source no refund rate, a shop with only refunds no orders.
        let oct = period("2026-10");
        let lines = kpid::snapshot::values_many(&s, &db.store, &pass, &shops, oct)
            .await
            .unwrap();
        let of = |id: &str| &lines[shops.iter().position(|x| x.id == id).unwrap()];
        assert_eq!(value(of("sh"), "gmv"), Some(d("850")), "{b}");
        assert_eq!(value(of("dz"), "buyers"), None, "{b}");
        assert_eq!(value(of("dz"), "refund_rate"), None, "{b}");
        assert!(value(of("sh"), "refund_rate").is_some(), "{b}");
        assert_eq!(value(of("nil"), "gmv"), None, "{b}");

        // Scorecards: each person alone (facts read for their shops) and
        // everyone at once, from the facts the snapshots of the same pass
        // read, give the same cards.
        let book = TargetBook::load(&s.targets, &db.store).await.unwrap();
        let people: Vec<&Person> = s.people.iter().collect();
        for p in ["2026-10", "2026"] {
            let p = period(p);
            for one in cards_alone_equal_cards_together(&s, &db, &pass, &book, &people, p).await {
                // And one person refreshed alone finds the card unchanged.
                let person = s.person(&one.person).unwrap();
                let again = scorecard::refresh(&s, &db.store, &book, person, p)
                    .await
                    .unwrap()
                    .unwrap();
                assert!(!again.new_revision, "{b} {p} {}", one.person);
            }
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_pass_reads_each_shops_facts_once_and_a_new_pass_reads_them_again() {
    for db in common::backends().await {
        let b = db.backend;
        let s = db.settings(CONFIG);
        db.write("imports/orders/a.csv", ORDERS);
        ingest_ok(&db, &s).await;
        let days = period("2026-10").days();
        let (sh, la): (kpid::ids::ShopId, kpid::ids::ShopId) = ("sh".into(), "la".into());
        let both = [sh.clone(), la.clone()];
        let orders = |f: &ShopFacts| f.records.map(|r| r.orders);
        let pass = FactsCache::default();
        let first = pass.shop_facts(&db.store, &both[..1], days).await.unwrap();
        assert_eq!(orders(&first[&sh]), Some(4), "{b}");

        // An order of each shop lands during the pass.
        db.write(
            "imports/orders/b.csv",
            "order_id,shop,paid_at,amount,buyer_id,status\n\
             s9,sh,2026-10-15 10:00:00,10,z,paid\n\
             l9,la,2026-10-15 10:00:00,10,z,paid\n",
        );
        ingest_ok(&db, &s).await;
        // The pass keeps the records it read (its snapshots and scorecards
        // agree) and reads only the shop it had not read, as it is now.
        let later = pass.shop_facts(&db.store, &both, days).await.unwrap();
        assert_eq!(orders(&later[&sh]), Some(4), "{b}");
        assert_eq!(orders(&later[&la]), Some(3), "{b}");
        // A new pass sees the order of `sh` too.
        let fresh = FactsCache::default()
            .shop_facts(&db.store, &both, days)
            .await
            .unwrap();
        assert_eq!(orders(&fresh[&sh]), Some(5), "{b}");
        let direct = ShopFacts::load_many(&db.store, &both, days).await.unwrap();
        for id in [&sh, &la] {
            assert_eq!(
                (&fresh[id].rows, &fresh[id].records),
                (&direct[id].rows, &direct[id].records),
                "{b} {id}"
            );
        }
        // Another range is read on its own.
        let sept = pass
            .shop_facts(&db.store, &both[..1], period("2026-09").days())
            .await
            .unwrap();
        assert_eq!(orders(&sept[&sh]), Some(1), "{b}");

        // Daily series are not kept but read each time (they can be large):
        // a daily file landing during the pass shows at once, its record
        // inputs giving way on the days that have records, while the
        // records stay as the pass first read them.
        db.write("imports/daily-sh/a.csv", DAILY_SH);
        ingest_ok(&db, &s).await;
        let again = pass.shop_facts(&db.store, &both, days).await.unwrap();
        let now = ShopFacts::load_many(&db.store, &both, days).await.unwrap();
        assert_eq!(again[&sh].rows, now[&sh].rows, "{b}");
        assert_eq!(orders(&again[&sh]), Some(4), "{b}");
        let gmv_on = |day: &str| {
            let day = period(day).days().first();
            again[&sh]
                .rows
                .iter()
                .any(|r| r.input == "gmv" && r.day == day)
        };
        assert!(again[&sh].rows.iter().any(|r| r.input == "pv"), "{b}");
        assert!(!gmv_on("2026-10-02"), "{b}: a day with orders");
        assert!(gmv_on("2026-10-06"), "{b}: a day without records");
        db.drop_db().await;
    }
}

/// Builds each person's card alone, then everyone's at once, asserts the
/// two agree card by card, and returns the cards built alone.
async fn cards_alone_equal_cards_together(
    s: &kpid::settings::Settings,
    db: &common::TestDb,
    facts: &FactsCache,
    book: &TargetBook,
    people: &[&Person],
    p: kpid::period::Period,
) -> Vec<kpid::store::StoredScorecard> {
    let b = db.backend;
    let mut alone = Vec::new();
    for person in people {
        alone.push(
            scorecard::compute_card(s, &db.store, book, person, p, "computed")
                .await
                .unwrap(),
        );
    }
    let together = scorecard::refresh_people(s, &db.store, facts, book, people, p)
        .await
        .unwrap();
    assert_eq!(together.len(), people.len(), "{b} {p}");
    for (one, all) in alone.iter().zip(&together) {
        assert_eq!(one.person, all.card.person, "{b} {p}");
        assert_eq!(one.lines, all.card.lines, "{b} {p} {}", one.person);
        assert_eq!(
            (one.total, &one.grade, one.bonus),
            (all.card.total, &all.card.grade, all.card.bonus),
            "{b} {p} {}",
            one.person
        );
    }
    alone
}

/// Shops in three currencies, converted to CNY at a rate per month (USD in
/// month m at 7 + m/100, EUR at 8 + m/100), so a year adds twelve rates.
const CURRENCIES: &str = r#"
timezone = "Asia/Shanghai"

[storage]
url = "{db}"

[[shops]]
id = "sh"

[[shops]]
id = "la"
currency = "USD"

[[shops]]
id = "eu"
currency = "EUR"

[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
path = "{dir}/imports/orders/*.csv"

[[connectors]]
name = "refunds-la"
kind = "csv"
stream = "refunds"
shop = "la"
path = "{dir}/imports/refunds-la/*.csv"

[[targets]]
kpi = "gmv"
period = "*"
value = 300

[[people]]
id = "sh_la"
name = "A"
role = "ops_specialist"
shops = ["sh", "la"]

[[people]]
id = "la_eu"
name = "B"
role = "ops_specialist"
shops = ["la", "eu"]

[[people]]
id = "all"
name = "C"
role = "ops_specialist"
shops = ["eu", "sh", "la"]

[[people]]
id = "la"
name = "D"
role = "ops_specialist"
shops = ["la"]

[currency]
base = "CNY"
"#;

const CURRENCY_ORDERS: &str = "order_id,shop,paid_at,amount,buyer_id,status\n\
     s1,sh,2026-10-10 10:00:00,1000,a,paid\n\
     s2,sh,2026-11-10 10:00:00,500,b,paid\n\
     l1,la,2026-10-10 10:00:00,100,c,paid\n\
     l2,la,2026-11-10 10:00:00,10,d,paid\n\
     l3,la,2026-03-31 10:00:00,20,c,paid\n\
     e1,eu,2026-10-20 10:00:00,50,e,paid\n\
     e2,eu,2026-02-01 10:00:00,5,f,paid\n";

const CURRENCY_REFUNDS_LA: &str = "refund_id,order_id,shop,refunded_at,amount\n\
     q1,l1,la,2026-10-20 18:00:00,40\n\
     q2,l2,la,2026-11-20 18:00:00,10\n";

#[tokio::test]
async fn people_in_mixed_currencies_get_at_once_the_cards_they_get_alone() {
    let mut rates = String::new();
    for (from, unit) in [("USD", 7), ("EUR", 8)] {
        for m in 1..=12 {
            rates.push_str(&format!(
                "\n[[currency.rates]]\nfrom = \"{from}\"\nmonth = \"2026-{m:02}\"\nrate = \"{unit}.{m:02}\"\n"
            ));
        }
    }
    for db in common::backends().await {
        let b = db.backend;
        let s = db.settings(&format!("{CURRENCIES}{rates}"));
        db.write("imports/orders/a.csv", CURRENCY_ORDERS);
        db.write("imports/refunds-la/a.csv", CURRENCY_REFUNDS_LA);
        ingest_ok(&db, &s).await;
        let book = TargetBook::load(&s.targets, &db.store).await.unwrap();
        let people: Vec<&Person> = s.people.iter().collect();
        let pass = FactsCache::default();
        for p in ["2026-10", "2026", "2026-11", "2026-03-31"] {
            let p = period(p);
            cards_alone_equal_cards_together(&s, &db, &pass, &book, &people, p).await;
        }
        // The numbers are converted month by month at each month's rate.
        let gmv = |person: &str, p: &str| {
            let person = s.person(person).unwrap().clone();
            let p = period(p);
            let (s, db, book) = (&s, &db, &book);
            async move {
                let c = scorecard::compute_card(s, &db.store, book, &person, p, "computed")
                    .await
                    .unwrap();
                c.lines
                    .iter()
                    .find(|l| l.kpi == "gmv")
                    .unwrap()
                    .measure
                    .value
            }
        };
        // 1000 + 100 × 7.10
        assert_eq!(gmv("sh_la", "2026-10").await, Some(d("1710")), "{b}");
        // 1000 + 500 + 100 × 7.10 + 10 × 7.11 + 20 × 7.03
        assert_eq!(gmv("sh_la", "2026").await, Some(d("2421.7")), "{b}");
        // 100 × 7.10 + 10 × 7.11 + 20 × 7.03 + 50 × 8.10 + 5 × 8.02
        assert_eq!(gmv("la_eu", "2026").await, Some(d("1366.8")), "{b}");
        // One currency stays as it is.
        assert_eq!(gmv("la", "2026").await, Some(d("130")), "{b}");
        db.drop_db().await;
    }
}
