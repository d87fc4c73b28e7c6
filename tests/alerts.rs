//! Alerts: the state machine (pending → firing after `for`, no repeat
//! before `repeat_interval`, one resolved notice), silences, the outbox
//! across restarts and crashes, two replicas, pro-rated targets east and
//! west of UTC, `down` KPIs, KPIs without a target or value, digests
//! against `kpid report`, and `kpid check` problems. Deliveries go to the
//! `log` channel and are read back from the outbox (and the log lines);
//! time is the evaluated instant (`--at`), never a sleep.
mod common;
mod helpers;

use chrono::{DateTime, Utc};
use helpers::*;
use kpid::alerts::deliver::{deliver_due, Delivered};
use kpid::alerts::message::{AlertState, Message};
use kpid::alerts::state::{evaluate, Transition};
use kpid::setup::Setup;
use kpid::store::{AlertRow, OutboxRow, Silence, Store};
use serde_json::Value;
use std::process::Command;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// One evaluation as of `instant`, then delivery of what is due.
async fn eval(store: &Store, s: &Setup, instant: &str) -> (Vec<Transition>, Vec<Delivered>) {
    let t = evaluate(s, &s.alerts, store, at(instant), "test")
        .await
        .unwrap();
    let sent = deliver_due(&s.alerts, store, "test", None).await.unwrap();
    (t, sent)
}

async fn alert(store: &Store, rule: &str, scope: &str, kpi: &str) -> Option<AlertRow> {
    store
        .alerts()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.rule == rule && a.scope_id == scope && a.kpi == kpi)
}

async fn outbox(store: &Store) -> Vec<OutboxRow> {
    let mut rows = store.notifications(1000).await.unwrap();
    rows.reverse();
    rows
}

/// The states of the alerts of each notification of `rows`.
fn notice_states(row: &OutboxRow) -> Vec<AlertState> {
    match serde_json::from_str::<Message>(&row.message).unwrap() {
        Message::Alerts(g) => g.alerts.iter().map(|a| a.state).collect(),
        other => panic!("not an alert message: {other:?}"),
    }
}

const LOG_CHANNEL: &str = r#"
[[alerts.channels]]
name = "ops"
kind = "log"
"#;

/// October's GMV target for `sh` is 31 000: on 10 October, 1–9 October is
/// held against 9/31 of it = 9 000 (computed by hand).
fn month_rule(for_evaluations: u32) -> String {
    format!(
        r#"
[[targets]]
kpi = "gmv"
shop = "sh"
period = "2026-10"
value = "31000"

[alerts]
language = "en"
repeat_interval = "4h"
send_resolved = true
{LOG_CHANNEL}
[[alerts.rules]]
name = "gmv-behind"
kpi = "gmv"
shop = "sh"
period = "month"
condition = "below_target"
threshold = "1"
for = {for_evaluations}
channels = ["ops"]
"#
    )
}

/// 8 000 of GMV in Shanghai over 1–9 October (below the 9 000 due).
fn write_behind_orders(db: &common::TestDb) {
    db.write(
        "imports/orders/a.csv",
        &format!(
            "{ORDERS_HEADER}\
             o1,sh,2026-10-01T10:00:00+08:00,5000,b1,paid\n\
             o2,sh,2026-10-09T23:30:00+08:00,3000,b2,paid\n"
        ),
    );
}

#[tokio::test]
async fn pending_fires_after_for_repeats_after_interval_and_resolves_once() {
    for db in common::backends().await {
        let b = db.backend;
        let s = settings(&db, &month_rule(2));
        write_behind_orders(&db);
        ingest_ok(&db, &s).await;

        let (t, sent) = eval(&db.store, &s, "2026-10-10T09:00:00+08:00").await;
        assert_eq!(t.len(), 1, "{b}: {t:?}");
        assert_eq!(
            (t[0].from, t[0].to),
            (AlertState::Inactive, AlertState::Pending)
        );
        assert!(sent.is_empty(), "{b}: pending sends nothing: {sent:?}");
        let a = alert(&db.store, "gmv-behind", "sh", "gmv").await.unwrap();
        assert_eq!(a.reading.threshold, Some(d("9000")), "{b}: 31000 × 9/31");
        assert_eq!(a.reading.measure.value, Some(d("8000")));
        assert_eq!(a.reading.measure.target, Some(d("31000")));

        let (t, sent) = eval(&db.store, &s, "2026-10-10T10:00:00+08:00").await;
        assert_eq!(
            (t[0].from, t[0].to),
            (AlertState::Pending, AlertState::Firing),
            "{b}"
        );
        assert_eq!(sent.len(), 1, "{b}: {sent:?}");
        assert!(sent[0].result.is_ok(), "{b}: {sent:?}");

        // Within the repeat interval: state stays, nothing sent.
        let (t, sent) = eval(&db.store, &s, "2026-10-10T13:59:00+08:00").await;
        assert!(t.is_empty() && sent.is_empty(), "{b}: {t:?} {sent:?}");
        // Four hours after the last notification it is sent again.
        let (t, sent) = eval(&db.store, &s, "2026-10-10T14:00:00+08:00").await;
        assert!(t.is_empty(), "{b}");
        assert_eq!(sent.len(), 1, "{b}: repeat after 4h");

        // On the 1st there is no month to date: not evaluated, state kept.
        let (t, sent) = eval(&db.store, &s, "2026-11-01T09:00:00+08:00").await;
        assert!(t.is_empty() && sent.is_empty(), "{b}");
        let a = alert(&db.store, "gmv-behind", "sh", "gmv").await.unwrap();
        assert_eq!(a.state, "firing", "{b}");

        // GMV catches up: one resolved notice, then silence.
        db.write(
            "imports/orders/b.csv",
            &format!("{ORDERS_HEADER}o3,sh,2026-10-09T12:00:00+08:00,1000,b3,paid\n"),
        );
        ingest_ok(&db, &s).await;
        let (t, sent) = eval(&db.store, &s, "2026-10-10T15:00:00+08:00").await;
        assert_eq!(
            (t[0].from, t[0].to),
            (AlertState::Firing, AlertState::Resolved),
            "{b}"
        );
        assert_eq!(sent.len(), 1, "{b}");
        let (t, sent) = eval(&db.store, &s, "2026-10-10T20:00:00+08:00").await;
        assert!(t.is_empty() && sent.is_empty(), "{b}: {t:?} {sent:?}");

        let rows = outbox(&db.store).await;
        let states: Vec<Vec<AlertState>> = rows.iter().map(notice_states).collect();
        assert_eq!(
            states,
            vec![
                vec![AlertState::Firing],
                vec![AlertState::Firing],
                vec![AlertState::Resolved]
            ],
            "{b}"
        );
        assert!(
            rows.iter().all(|r| r.status == "sent" && r.attempts == 1),
            "{b}: {rows:?}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_silence_suppresses_delivery_but_not_state() {
    for db in common::backends().await {
        let b = db.backend;
        let s = settings(&db, &month_rule(1));
        write_behind_orders(&db);
        ingest_ok(&db, &s).await;
        let now = Utc::now().timestamp();
        let id = db
            .store
            .add_silence(&Silence {
                id: 0,
                matchers: vec![("shop".into(), "sh".into()), ("kpi".into(), "gmv".into())],
                starts_at: now,
                ends_at: now + 7200,
                comment: "known: promotion moved".into(),
                created_by: "test".into(),
            })
            .await
            .unwrap();
        let (t, sent) = eval(&db.store, &s, "2026-10-10T09:00:00+08:00").await;
        assert_eq!(
            (t[0].from, t[0].to),
            (AlertState::Inactive, AlertState::Firing),
            "{b}"
        );
        assert!(
            sent.is_empty(),
            "{b}: a silenced alert sends nothing: {sent:?}"
        );
        let rows = outbox(&db.store).await;
        assert_eq!(rows.len(), 1, "{b}");
        assert_eq!(rows[0].status, "silenced", "{b}");
        assert_eq!(rows[0].sent_at, None, "{b}");

        // Expired, the next notification (after the repeat interval) goes out.
        assert!(db
            .store
            .expire_silence(id, Utc::now().timestamp())
            .await
            .unwrap());
        let (_, sent) = eval(&db.store, &s, "2026-10-10T13:00:00+08:00").await;
        assert_eq!(sent.len(), 1, "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_restart_does_not_resend_and_a_crash_before_sending_delivers_once() {
    for db in common::backends().await {
        let b = db.backend;
        let s = settings(&db, &month_rule(1));
        write_behind_orders(&db);
        ingest_ok(&db, &s).await;
        let (_, sent) = eval(&db.store, &s, "2026-10-10T09:00:00+08:00").await;
        assert_eq!(sent.len(), 1, "{b}");

        // A restart: a new process on the same database sends nothing again.
        db.store.close().await;
        let store = Store::connect(&db.url).await.unwrap();
        store.migrate().await.unwrap();
        assert!(
            deliver_due(&s.alerts, &store, "second", None)
                .await
                .unwrap()
                .is_empty(),
            "{b}"
        );
        let (t, sent) = eval(&store, &s, "2026-10-10T09:30:00+08:00").await;
        assert!(t.is_empty() && sent.is_empty(), "{b}: {t:?} {sent:?}");

        // A crash after deciding and before sending: the decision is in the
        // outbox; the process dies without delivering.
        let t = evaluate(
            &s,
            &s.alerts,
            &store,
            at("2026-10-10T13:30:00+08:00"),
            "doomed",
        )
        .await
        .unwrap();
        assert!(t.is_empty(), "{b}: still firing");
        let pending: Vec<_> = outbox(&store)
            .await
            .into_iter()
            .filter(|r| r.status == "pending")
            .collect();
        assert_eq!(pending.len(), 1, "{b}: the repeat was decided");
        store.close().await;
        drop(store);

        let store = Store::connect(&db.url).await.unwrap();
        let sent = deliver_due(&s.alerts, &store, "restarted", None)
            .await
            .unwrap();
        assert_eq!(sent.len(), 1, "{b}: delivered once on restart");
        assert!(sent[0].result.is_ok(), "{b}");
        assert!(deliver_due(&s.alerts, &store, "restarted", None)
            .await
            .unwrap()
            .is_empty());
        let rows = outbox(&store).await;
        assert_eq!(rows.len(), 2, "{b}");
        assert!(
            rows.iter().all(|r| r.status == "sent" && r.attempts == 1),
            "{b}"
        );
        store.close().await;
        db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_evaluating_at_once_send_each_notification_once() {
    for db in common::backends().await {
        let b = db.backend;
        let s = std::sync::Arc::new(settings(&db, &month_rule(1)));
        write_behind_orders(&db);
        ingest_ok(&db, &s).await;
        // Four replicas per round, released together once connected, so
        // their evaluations overlap; every four hours a repeat is due.
        let rounds = [
            "2026-10-10T09:00:00+08:00",
            "2026-10-10T13:00:00+08:00",
            "2026-10-10T17:00:00+08:00",
            "2026-10-10T21:00:00+08:00",
        ];
        for round in rounds {
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(4));
            let mut tasks = Vec::new();
            for replica in ["replica-a", "replica-b", "replica-c", "replica-d"] {
                let (s, url, barrier) = (s.clone(), db.url.clone(), barrier.clone());
                tasks.push(tokio::spawn(async move {
                    let store = Store::connect(&url).await.unwrap();
                    barrier.wait().await;
                    let t = evaluate(&s, &s.alerts, &store, at(round), replica)
                        .await
                        .unwrap();
                    let d = deliver_due(&s.alerts, &store, replica, None).await.unwrap();
                    store.close().await;
                    (t.len(), d.len())
                }));
            }
            let mut transitions = 0;
            let mut sent = 0;
            for t in tasks {
                let (decided, delivered) = t.await.unwrap();
                transitions += decided;
                sent += delivered;
            }
            let expected = if round.contains("T09") { 1 } else { 0 };
            assert_eq!(transitions, expected, "{b} {round}: one replica decides");
            assert_eq!(sent, 1, "{b} {round}: sent by exactly one replica");
        }
        let rows = outbox(&db.store).await;
        assert_eq!(rows.len(), rounds.len(), "{b}: {rows:?}");
        assert!(
            rows.iter().all(|r| r.status == "sent" && r.attempts == 1),
            "{b}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn today_is_held_against_the_elapsed_share_of_the_local_day_east_and_west() {
    for db in common::backends().await {
        let b = db.backend;
        // 74 400 a month (October, 31 days) is 2 400 a day.
        let s = settings(
            &db,
            &format!(
                r#"
[[targets]]
kpi = "gmv"
period = "*"
value = "74400"

[alerts]
{LOG_CHANNEL}
[[alerts.rules]]
name = "gmv-today"
kpi = "gmv"
period = "today"
condition = "below_target"
threshold = "1"
channels = ["ops"]

[[alerts.rules]]
name = "aov-today"
kpi = "aov"
period = "today"
condition = "below_target"
threshold = "1"
channels = ["ops"]

[[targets]]
kpi = "aov"
period = "*"
value = "1000"
"#
            ),
        );
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 s1,sh,2026-10-10T07:00:00+08:00,700,b1,paid\n\
                 l1,la,2026-10-09T16:00:00-07:00,1800,b2,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        // 2026-10-10T00:00Z is 08:00 in Shanghai (1/3 of 10 October gone)
        // and 17:00 PDT in Los Angeles (17/24 of 9 October gone).
        eval(&db.store, &s, "2026-10-10T00:00:00Z").await;
        let sh = alert(&db.store, "gmv-today", "sh", "gmv").await.unwrap();
        assert_eq!(sh.reading.threshold, Some(d("800")), "{b}: 2400 × 8/24");
        assert_eq!(sh.period_label, "2026-10-10");
        assert_eq!(sh.state, "firing", "{b}: 700 < 800");
        let la = alert(&db.store, "gmv-today", "la", "gmv").await.unwrap();
        assert_eq!(la.reading.threshold, Some(d("1700")), "{b}: 2400 × 17/24");
        assert_eq!(la.period_label, "2026-10-09");
        assert_eq!(la.state, "inactive", "{b}: 1800 ≥ 1700");
        // A ratio is compared as it is, not pro-rated.
        let aov = alert(&db.store, "aov-today", "sh", "aov").await.unwrap();
        assert_eq!(aov.reading.threshold, Some(d("1000")), "{b}");
        assert_eq!(aov.state, "firing", "{b}: 700 per buyer < 1000");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn down_kpis_breach_when_worse_than_target_and_missing_values_leave_state_alone() {
    for db in common::backends().await {
        let b = db.backend;
        let s = settings(
            &db,
            &format!(
                r#"
[[targets]]
kpi = "refund_rate"
period = "*"
value = "0.05"

[alerts]
{LOG_CHANNEL}
[[alerts.rules]]
name = "refunds"
kpi = "refund_rate"
period = "day"
condition = "below_target"
threshold = "1"
channels = ["ops"]

# No target for conversion_rate anywhere, and no traffic data.
[[alerts.rules]]
name = "conversion"
kpi = "conversion_rate"
period = "day"
condition = "below_target"
threshold = "1"
channels = ["ops"]
"#
            ),
        );
        let mut orders = ORDERS_HEADER.to_string();
        for i in 0..10 {
            orders.push_str(&format!(
                "s{i},sh,2026-10-09T10:00:00+08:00,100,b{i},paid\n"
            ));
            // 10 October 09:00 in Shanghai is 9 October in Los Angeles,
            // whose yesterday is the 8th.
            orders.push_str(&format!(
                "l{i},la,2026-10-08T10:00:00-07:00,100,c{i},paid\n"
            ));
        }
        db.write("imports/orders/a.csv", &orders);
        db.write(
            "imports/refunds/a.csv",
            &format!("{REFUNDS_HEADER}r1,s1,sh,2026-10-09T12:00:00+08:00,100\n"),
        );
        ingest_ok(&db, &s).await;
        eval(&db.store, &s, "2026-10-10T09:00:00+08:00").await;
        // sh: 1 refund in 10 orders = 10 % > 5 %: worse than target.
        let sh = alert(&db.store, "refunds", "sh", "refund_rate")
            .await
            .unwrap();
        assert_eq!(sh.state, "firing", "{b}");
        assert_eq!(sh.reading.measure.value, Some(d("0.1")));
        assert_eq!(sh.reading.threshold, Some(d("0.05")), "{b}");
        assert_eq!(
            sh.reading.measure.attainment,
            Some(d("0.5")),
            "{b}: target/actual"
        );
        let la = alert(&db.store, "refunds", "la", "refund_rate")
            .await
            .unwrap();
        assert_eq!(
            la.state, "inactive",
            "{b}: no refunds is better than target"
        );
        // Without a target (and without a value) nothing is decided or stored.
        assert!(
            alert(&db.store, "conversion", "sh", "conversion_rate")
                .await
                .is_none(),
            "{b}"
        );

        // The next day has no orders: refund rate has no value (0/0), so
        // the firing alert neither fires again nor resolves.
        let (t, sent) = eval(&db.store, &s, "2026-10-11T09:00:00+08:00").await;
        assert!(t.is_empty(), "{b}: {t:?}");
        assert!(sent.is_empty(), "{b}");
        let sh = alert(&db.store, "refunds", "sh", "refund_rate")
            .await
            .unwrap();
        assert_eq!(sh.state, "firing", "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_digest_shows_the_numbers_of_kpid_report() {
    for db in common::backends().await {
        let b = db.backend;
        let s = settings(
            &db,
            &format!(
                r#"
[[targets]]
kpi = "gmv"
shop = "sh"
period = "2026-10"
value = "31000"

[alerts]
{LOG_CHANNEL}
[[alerts.digests]]
name = "morning"
schedule = "0 9 * * *"
shops = ["sh"]
kpis = ["gmv", "orders", "aov", "refund_rate"]
channels = ["ops"]
"#
            ),
        );
        let mut orders = ORDERS_HEADER.to_string();
        for day in 1..=9 {
            for n in 0..day {
                orders.push_str(&format!(
                    "o{day}-{n},sh,2026-10-{day:02}T12:00:00+08:00,{}.25,b{n},paid\n",
                    100 + day * 10 + n
                ));
            }
        }
        db.write("imports/orders/a.csv", &orders);
        db.write(
            "imports/refunds/a.csv",
            &format!("{REFUNDS_HEADER}r1,o9-1,sh,2026-10-09T15:00:00+08:00,50\n"),
        );
        ingest_ok(&db, &s).await;
        let day = compute(&db, &s, "sh", "2026-10-09").await;
        let month = compute(&db, &s, "sh", "2026-10").await;
        let spec = s.alerts.digest("morning").unwrap();
        let digest = kpid::alerts::digest::build(
            &s,
            &s.alerts,
            &db.store,
            spec,
            &spec.shops,
            at("2026-10-10T09:00:00+08:00"),
        )
        .await
        .unwrap();
        let shop = &digest.shops[0];
        assert_eq!(shop.day, "2026-10-09");
        assert_eq!(
            shop.month_to_date.as_deref(),
            Some("2026-10-01..2026-10-09")
        );
        for kpi in ["gmv", "orders", "aov", "refund_rate"] {
            let line = shop.lines.iter().find(|l| l.kpi.id == kpi).unwrap();
            assert_eq!(line.day_value, value(&day.kpis, kpi), "{b} {kpi} day");
            assert!(line.day_value.is_some(), "{b} {kpi}");
            assert_eq!(line.month_value, value(&month.kpis, kpi), "{b} {kpi} month");
        }
        let gmv = shop.lines.iter().find(|l| l.kpi.id == "gmv").unwrap();
        assert_eq!(gmv.month_target, Some(d("31000")));
        // Month to date against 9/31 of the target.
        let due = d("9000");
        assert_eq!(
            gmv.month_attainment,
            Some(kpid::kpi::round_value(gmv.month_value.unwrap() / due)),
            "{b}"
        );

        // Sent through the outbox once.
        kpid::alerts::digest::enqueue(&db.store, spec, &digest)
            .await
            .unwrap();
        let sent = deliver_due(&s.alerts, &db.store, "test", None)
            .await
            .unwrap();
        assert_eq!(sent.len(), 1, "{b}");
        assert!(sent[0].result.is_ok(), "{b}: {sent:?}");
        db.drop_db().await;
    }
}

fn kpid_cli(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kpid"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("KPID_CONFIG")
        .env_remove("KPID_LOG")
        .env_remove("KPID_STORAGE__URL")
        .output()
        .expect("the kpid binary runs")
}

#[tokio::test]
async fn cli_evaluates_at_an_instant_and_lists_alerts_as_json() {
    for db in common::backends().await {
        let b = db.backend;
        let _ = settings(&db, &month_rule(1));
        write_behind_orders(&db);
        let config = db.path("kpid.toml");
        let out = kpid_cli(&config, &["ingest"]);
        assert!(out.status.success(), "{b}: {out:?}");
        let out = kpid_cli(
            &config,
            &["alerts", "evaluate", "--at", "2026-10-10T09:00:00+08:00"],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{b}: {out:?}");
        assert!(stdout.contains("inactive → firing"), "{b}: {stdout}");
        let out = kpid_cli(&config, &["alerts", "list", "--format", "json"]);
        assert!(out.status.success(), "{b}: {out:?}");
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        let a = &list[0];
        assert_eq!(a["rule"], "gmv-behind");
        assert_eq!(a["kpi"], "gmv");
        assert_eq!(a["period"], "month");
        assert_eq!(a["shop"], "sh");
        assert_eq!(a["person"], Value::Null);
        assert_eq!(a["state"], "firing");
        assert_eq!(a["value"].to_string(), "8000");
        assert_eq!(a["threshold"].to_string(), "9000");
        assert!(
            a["since"].is_string() && a["last_sent"].is_string(),
            "{b}: {a}"
        );

        let out = kpid_cli(
            &config,
            &["silence", "add", "--matcher", "shop=sh", "--duration", "2h"],
        );
        assert!(out.status.success(), "{b}: {out:?}");
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(id.parse::<i64>().is_ok(), "{b}: prints an id: {id}");
        let out = kpid_cli(&config, &["silence", "list"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("shop=sh"),
            "{b}"
        );
        let out = kpid_cli(&config, &["silence", "expire", &id]);
        assert!(out.status.success(), "{b}: {out:?}");
        let out = kpid_cli(&config, &["alerts", "history", "--format", "json"]);
        let history: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(history[0]["status"], "sent", "{b}: {history}");
        assert_eq!(history[0]["channel"], "ops");
        let out = kpid_cli(&config, &["alerts", "test", "--channel", "ops"]);
        assert!(out.status.success(), "{b}: {out:?}");
        db.drop_db().await;
    }
}

#[test]
fn the_demo_logs_alerts_and_lists_them_with_no_outside_service() {
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml"))
        .unwrap()
        .replace(
            "sqlite://data/demo.db",
            &format!("sqlite://{}/demo.db", dir.path().display()),
        );
    let config = dir.path().join("demo.toml");
    std::fs::write(&config, demo).unwrap();
    let out = kpid_cli(&config, &["run", "--once"]);
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("gmv") && l.contains("channel=ops-log")),
        "no alert logged:\n{log}"
    );
    let out = kpid_cli(&config, &["alerts", "list", "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    // Demo data ends yesterday: today's GMV is behind whatever the hour.
    assert!(
        list.iter()
            .any(|a| a["rule"] == "gmv-today-behind" && a["state"] == "firing"),
        "{list:?}"
    );
    // Firing alerts were delivered through the log channel.
    let out = kpid_cli(&config, &["alerts", "history", "--format", "json"]);
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    let history = history.as_array().unwrap();
    assert!(!history.is_empty());
    assert!(
        history
            .iter()
            .all(|n| n["status"] == "sent" && n["channel"] == "ops-log"),
        "{history:?}"
    );
}

#[test]
fn check_names_file_line_and_key_of_each_bad_rule() {
    let base = r#"
[storage]
url = "sqlite://{dir}/kpid.db"

[[shops]]
id = "sh"

[alerts]
[[alerts.channels]]
name = "ops"
kind = "log"

[[alerts.rules]]
name = "a"
kpi = "gmvv"
period = "month"
condition = "below_target"
threshold = "0.9"
channels = ["ops"]

[[alerts.rules]]
name = "b"
kpi = "gmv"
shop = "nowhere"
period = "day"
condition = "below"
threshold = "lots"
compare = "previous_day"
channels = ["pager"]

[[alerts.rules]]
name = "c"
kpi = "gmv"
person = "nobody"
period = "day"
condition = "drop"
threshold = "0.3"
channels = ["ops"]

[[alerts.rules]]
name = "d"
kpi = "gmv"
role = "astronaut"
period = "day"
condition = "rise"
threshold = "0.3"
channels = ["ops"]
"#;
    let err = common::facts::load_config(base).unwrap_err();
    for expected in [
        ":15: `alerts.rules[0].kpi`: unknown KPI `gmvv`",
        ":24: `alerts.rules[1].shop`: no shop `nowhere`",
        ":27: `alerts.rules[1].threshold`: `lots` is not a decimal",
        ":28: `alerts.rules[1].compare`: `compare` is only for drop and rise",
        ":29: `alerts.rules[1].channels`: no channel `pager`",
        ":34: `alerts.rules[2].person`: no person `nobody`",
        ":43: `alerts.rules[3].role`: no role `astronaut`",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
}

/// Requests a loopback server received on `path`.
async fn posts(server: &wiremock::MockServer, path: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == path)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn a_failing_channel_does_not_stop_the_others_and_alertmanager_hears_every_evaluation() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    for db in common::backends().await {
        let b = db.backend;
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/broken"))
            .respond_with(ResponseTemplate::new(500))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/hook"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/v2/alerts"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let channels = format!(
            r#"
[[alerts.channels]]
name = "broken"
kind = "webhook"
url = "{uri}/broken"
retries = 0

[[alerts.channels]]
name = "hook"
kind = "webhook"
url = "{uri}/hook"

[[alerts.channels]]
name = "am"
kind = "alertmanager"
url = "{uri}"
"#,
            uri = server.uri()
        );
        let config = month_rule(1)
            .replace(LOG_CHANNEL, &channels)
            .replace(
                r#"channels = ["ops"]"#,
                r#"channels = ["broken", "hook", "am"]"#,
            )
            .replace("send_resolved = true", "send_resolved = false");
        let s = settings(&db, &config);
        write_behind_orders(&db);
        ingest_ok(&db, &s).await;

        let (_, sent) = eval(&db.store, &s, "2026-10-10T09:00:00+08:00").await;
        assert_eq!(sent.len(), 3, "{b}: {sent:?}");
        let failed: Vec<_> = sent.iter().filter(|d| d.result.is_err()).collect();
        assert_eq!(failed.len(), 1, "{b}: {sent:?}");
        assert_eq!(failed[0].channel, "broken");
        assert_eq!(posts(&server, "/hook").await.len(), 1, "{b}");
        let history = db.store.notifications(10).await.unwrap();
        let broken = history.iter().find(|r| r.channel == "broken").unwrap();
        assert_eq!(broken.status, "failed", "{b}");
        assert!(
            broken.error.as_deref().unwrap_or("").contains("500"),
            "{b}: {broken:?}"
        );

        // An hour later: still firing, not due for a repeat — only
        // Alertmanager is told again, so it does not resolve the alert.
        let (_, sent) = eval(&db.store, &s, "2026-10-10T10:00:00+08:00").await;
        assert_eq!(sent.len(), 1, "{b}: {sent:?}");
        assert_eq!(sent[0].channel, "am");
        assert_eq!(posts(&server, "/hook").await.len(), 1, "{b}");
        let am = posts(&server, "/api/v2/alerts").await;
        assert_eq!(am.len(), 2, "{b}");
        assert_eq!(
            am[1][0]["labels"]["alertname"], "gmv-behind",
            "{b}: {}",
            am[1]
        );

        // It resolves: without send_resolved the webhook hears nothing, but
        // Alertmanager gets the end of the alert.
        db.write(
            "imports/orders/b.csv",
            &format!("{ORDERS_HEADER}o3,sh,2026-10-09T12:00:00+08:00,1000,b3,paid\n"),
        );
        ingest_ok(&db, &s).await;
        let (t, sent) = eval(&db.store, &s, "2026-10-10T11:00:00+08:00").await;
        assert_eq!(t[0].to, AlertState::Resolved, "{b}");
        assert_eq!(sent.len(), 1, "{b}: {sent:?}");
        assert_eq!(sent[0].channel, "am");
        let am = posts(&server, "/api/v2/alerts").await;
        assert_eq!(am.len(), 3, "{b}");
        assert!(am[2][0]["endsAt"].is_string(), "{b}: {}", am[2]);
        assert_eq!(posts(&server, "/hook").await.len(), 1, "{b}");
        server.reset().await;
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_persons_rule_watches_the_data_of_their_scope_against_their_target() {
    for db in common::backends().await {
        let b = db.backend;
        let s = settings(
            &db,
            &format!(
                r#"
[[people]]
id = "li"
name = "Li Lei"
role = "ops_specialist"
shops = ["sh"]

[[targets]]
kpi = "gmv"
person = "li"
period = "2026-10"
value = "31000"

[alerts]
{LOG_CHANNEL}
[[alerts.rules]]
name = "ops-gmv"
kpi = "gmv"
role = "ops_specialist"
period = "month"
condition = "below_target"
threshold = "1"
channels = ["ops"]
"#
            ),
        );
        write_behind_orders(&db);
        ingest_ok(&db, &s).await;
        let (t, sent) = eval(&db.store, &s, "2026-10-10T09:00:00+08:00").await;
        assert_eq!(t.len(), 1, "{b}: {t:?}");
        assert_eq!(sent.len(), 1, "{b}");
        let a = alert(&db.store, "ops-gmv", "li", "gmv").await.unwrap();
        assert_eq!(a.scope_kind, "person", "{b}");
        assert_eq!(a.state, "firing", "{b}");
        assert_eq!(a.reading.measure.value, Some(d("8000")), "{b}");
        assert_eq!(
            a.reading.threshold,
            Some(d("9000")),
            "{b}: the person's 31000 × 9/31"
        );
        match serde_json::from_str::<Message>(&outbox(&db.store).await[0].message).unwrap() {
            Message::Alerts(g) => {
                assert_eq!(g.scope, "li");
                assert_eq!(g.alerts[0].person.as_deref(), Some("li"));
                assert_eq!(g.alerts[0].shop, None);
            }
            other => panic!("{other:?}"),
        }
        db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_digest_is_sent_once_by_two_replicas() {
    use kpid::metrics::Metrics;
    use kpid::scheduler::Scheduler;
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;
    for db in common::backends().await {
        let b = db.backend;
        let s = Arc::new(settings(
            &db,
            &format!(
                r#"
[scheduler]
max_catchup_hours = 2

[alerts]
{LOG_CHANNEL}
[[alerts.digests]]
name = "morning"
schedule = "0 * * * *"
shops = ["sh"]
kpis = ["gmv"]
channels = ["ops"]
"#
            ),
        ));
        let mut replicas = Vec::new();
        for _ in 0..2 {
            let (s, url) = (s.clone(), db.url.clone());
            replicas.push(tokio::spawn(async move {
                let store = Store::connect(&url).await.unwrap();
                let metrics = Arc::new(Metrics::new(&[], 0.0));
                let jobs = kpid::jobs::scheduled(&s).unwrap();
                let cx =
                    kpid::jobs::Context::new(s, store.clone(), metrics, CancellationToken::new());
                let scheduler = Scheduler::new(cx, jobs);
                // The hourly tick just past is caught up at start.
                scheduler.catch_up().await;
                store.close().await;
            }));
        }
        for r in replicas {
            r.await.unwrap();
        }
        let digests: Vec<_> = outbox(&db.store)
            .await
            .into_iter()
            .filter(|r| r.kind == "digest")
            .collect();
        assert_eq!(digests.len(), 1, "{b}: {digests:?}");
        assert_eq!(digests[0].status, "sent", "{b}");
        let ticks = db.store.tick_attempts("digest:morning:sh").await.unwrap();
        assert_eq!(ticks.len(), 1, "{b}: {ticks:?}");
        assert_eq!(ticks[0].1, 1, "{b}: claimed once");
        db.drop_db().await;
    }
}

#[test]
fn check_validates_alerts_and_hides_channel_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kpid.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[storage]
url = "sqlite://{}/kpid.db"

[[shops]]
id = "sh"

[alerts]
below_target = ["ops-dingtalk"]

[[alerts.channels]]
name = "ops-dingtalk"
kind = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=TOKEN-0123456789"
secret = "SEC-not-for-your-eyes"

[[alerts.digests]]
name = "morning"
schedule = "0 9 * * *"
channels = ["ops-dingtalk"]
"#,
            dir.path().display()
        ),
    )
    .unwrap();
    let out = kpid_cli(&config, &["check"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ops-dingtalk"), "{text}");
    assert!(text.contains("digest:morning:sh"), "{text}");
    for secret in ["TOKEN-0123456789", "SEC-not-for-your-eyes"] {
        assert!(!text.contains(secret), "`{secret}` leaked:\n{text}");
    }
}

#[tokio::test]
async fn a_drop_against_the_same_day_last_week_fires_with_the_compared_value_as_threshold() {
    for db in common::backends().await {
        let b = db.backend;
        let s = settings(
            &db,
            &format!(
                r#"
[alerts]
{LOG_CHANNEL}
[[alerts.rules]]
name = "gmv-drop"
kpi = "gmv"
shop = "sh"
period = "day"
condition = "drop"
threshold = "0.3"
compare = "same_day_last_week"
severity = "critical"
channels = ["ops"]

[[alerts.rules]]
name = "gmv-rise"
kpi = "gmv"
shop = "sh"
period = "day"
condition = "rise"
threshold = "0.3"
compare = "previous_day"
channels = ["ops"]
"#
            ),
        );
        // 9 October: 600; 2 October: 1000 (-40 %); 8 October: 400 (+50 %).
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 a,sh,2026-10-02T12:00:00+08:00,1000,b1,paid\n\
                 b,sh,2026-10-08T12:00:00+08:00,400,b2,paid\n\
                 c,sh,2026-10-09T12:00:00+08:00,600,b3,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        eval(&db.store, &s, "2026-10-10T09:00:00+08:00").await;
        let drop = alert(&db.store, "gmv-drop", "sh", "gmv").await.unwrap();
        assert_eq!(drop.state, "firing", "{b}");
        assert_eq!(
            drop.reading.threshold,
            Some(d("700")),
            "{b}: 1000 × (1 − 0.3)"
        );
        let rise = alert(&db.store, "gmv-rise", "sh", "gmv").await.unwrap();
        assert_eq!(rise.state, "firing", "{b}");
        assert_eq!(
            rise.reading.threshold,
            Some(d("520")),
            "{b}: 400 × (1 + 0.3)"
        );
        db.drop_db().await;
    }
}
