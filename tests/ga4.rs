//! The `ga4` kind (the definition connectors/ga4.toml) against a loopback
//! mock speaking the Analytics Data API (tests/common/ga4.rs, shared with
//! tests/declarative.rs).

mod common;

use common::facts::{d, failure};
use common::ga4::*;
use common::logs::Logs;
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector};
use kpid::kpi::InputValues;
use kpid::period::{LocalDay, Period};
use serde_json::json;
use std::sync::{Arc, Mutex};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn service_account_config(server: &MockServer, key_path: &str) -> String {
    format!(
        r#"
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "cn"
[[connectors]]
name = "ga4-main"
kind = "ga4"
shop = "cn"
base_url = "{}"
property_id = "{PROPERTY}"
credentials_file = "{key_path}"
requests_per_second = 0
page_size = 2
"#,
        server.uri()
    )
}

#[tokio::test(flavor = "current_thread")]
async fn service_account_backfill_pages_renews_token_and_keeps_bad_rows_aside() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let assertions = Arc::new(Mutex::new(Vec::new()));
    for db in common::backends().await {
        let server = MockServer::start().await;
        let (key_file, bad_requests) = mount_service_account_report(&server, &assertions).await;
        let key_path = db.write("sa.json", &key_file.to_string());
        let settings = db.settings(&service_account_config(
            &server,
            &key_path.display().to_string(),
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let window = Window {
            from: LocalDay::from_ymd_opt(2026, 10, 1),
            to: LocalDay::from_ymd_opt(2026, 10, 5),
        };
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(
            run.error.is_none(),
            "{}: {:?} {:?}",
            db.backend,
            run.error,
            bad_requests.lock().unwrap()
        );
        // Three days of six inputs; the 10-03 row is set aside.
        assert_eq!(run.stats.records, 18, "{}", db.backend);
        assert_eq!(run.stats.rejects, 1, "{}", db.backend);
        let rejects = db.store.rejects("ga4-main").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        assert_eq!(rejects[0].locator, "day 2026-10-03");
        assert!(
            rejects[0].reason.contains("screenPageViews"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"n/a\""), "{}", rejects[0].raw);
        assert!(rejects[0].raw.contains("20261003"), "{}", rejects[0].raw);

        let day = |s: &str| Period::parse_day(s).unwrap();
        let oct1 = InputValues::load(&db.store, "cn", day("2026-10-01"))
            .await
            .unwrap();
        for (input, v) in [
            ("pv", "1200"),
            ("uv", "300"),
            ("new_uv", "120"),
            ("visits", "400"),
            ("bounces", "150"),
            ("stay_seconds_total", "36000"),
        ] {
            assert_eq!(oct1.get(input), Some(d(v)), "{} {input}", db.backend);
        }
        // No row for 10-04 and a rejected one for 10-03: nothing invented.
        for empty in ["2026-10-03", "2026-10-04"] {
            let v = InputValues::load(&db.store, "cn", day(empty))
                .await
                .unwrap();
            assert_eq!(v.get("pv"), None, "{} {empty}", db.backend);
            assert_eq!(v.get("visits"), None, "{} {empty}", db.backend);
        }
        let oct = InputValues::load(&db.store, "cn", Period::parse_month("2026-10").unwrap())
            .await
            .unwrap();
        for (input, v) in [
            ("pv", "3000"),
            ("uv", "750"),
            ("new_uv", "300"),
            ("visits", "990"),
            ("bounces", "380"),
            ("stay_seconds_total", "85999"),
        ] {
            assert_eq!(oct.get(input), Some(d(v)), "{} {input}", db.backend);
        }

        // The same window again stores nothing new (and reuses the token).
        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        assert!(bad_requests.lock().unwrap().is_empty());
        server.verify().await;
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(text.contains("retrying"), "the 429 was logged and retried");
    assert!(text.contains("401"), "the token renewal was logged");
    logs.assert_free_of(&["ya29.", &private_key_body()]);
    let assertions = assertions.lock().unwrap();
    assert!(!assertions.is_empty());
    let signed: Vec<&str> = assertions.iter().map(String::as_str).collect();
    logs.assert_free_of(&signed);
}

fn token_config(server: &MockServer, token_file: &str, zone: &str) -> String {
    format!(
        r#"
timezone = "{zone}"
[storage]
url = "{{db}}"
[[shops]]
id = "pl"
[[connectors]]
name = "ga4-pl"
kind = "ga4"
shop = "pl"
base_url = "{}"
property_id = "{PROPERTY}"
access_token_file = "{token_file}"
requests_per_second = 0
"#,
        server.uri()
    )
}

const TOKEN: &str = "ya29.a0STATIC_test_token_31415";

/// A report in the fixture's real shape (one metric, gaps between days,
/// `rowCount` smaller than the rows served) stores what it has, once.
#[tokio::test]
async fn bearer_token_report_stores_only_the_days_and_metrics_it_has() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(REPORT))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_partial_json(json!({
                "dateRanges": [{ "startDate": "2024-06-07", "endDate": "2024-07-07" }],
                "limit": 10000, "offset": 0
            })))
            .respond_with(ResponseTemplate::new(200).set_body_raw(WEEK, "application/json"))
            .expect(1)
            .mount(&server)
            .await;
        let token_file = db.write("ga4.token", &format!("{TOKEN}\n"));
        let settings = db.settings(&token_config(
            &server,
            &token_file.display().to_string(),
            "Europe/Warsaw",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(
            &db.store,
            &connectors[0],
            Window {
                from: LocalDay::from_ymd_opt(2024, 6, 7),
                to: LocalDay::from_ymd_opt(2024, 7, 7),
            },
        )
        .await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        assert_eq!(run.stats.records, 15, "{}", db.backend);
        let june = InputValues::load(&db.store, "pl", Period::parse_month("2024-06").unwrap())
            .await
            .unwrap();
        assert_eq!(june.get("uv"), Some(d("87039")), "{}", db.backend);
        assert_eq!(june.get("pv"), None, "no screenPageViews in the report");
        assert_eq!(june.get("bounces"), None, "no sessions in the report");
        let day = |s: &str| {
            let store = &db.store;
            let p = Period::parse_day(s).unwrap();
            async move { InputValues::load(store, "pl", p).await.unwrap().get("uv") }
        };
        assert_eq!(day("2024-06-07").await, Some(d("421")));
        assert_eq!(day("2024-06-10").await, None, "a gap stays empty");
        assert_eq!(day("2024-07-07").await, Some(d("234")));
        server.verify().await;
        db.drop_db().await;
    }
    // The property reports in Europe/Warsaw, the shop's zone: nothing to say.
    assert!(
        !logs.text().contains("another time zone"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn permission_denied_fails_at_once_naming_property_and_credentials() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(REPORT))
            .respond_with(google_error(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property.",
            ))
            .expect(1)
            .mount(&server)
            .await;
        let token_file = db.write("ga4.token", TOKEN);
        let settings = db.settings(&token_config(
            &server,
            &token_file.display().to_string(),
            "Europe/Warsaw",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let day = LocalDay::from_ymd_opt(2026, 10, 1);
        let run = run_connector(&db.store, &connectors[0], Window { from: day, to: day }).await;
        failure(
            &run,
            "a 403 fails the run",
            &[
                "ga4-pl",
                "403",
                "PERMISSION_DENIED",
                "property_id",
                "credentials",
            ],
            &[TOKEN],
        );
        server.verify().await;
        db.drop_db().await;
    }
}

/// A scheduled run re-fetches the last three days through yesterday in the
/// shop's zone (Kiritimati is UTC+14, so its yesterday is often UTC's today).
#[tokio::test]
async fn scheduled_run_refetches_the_lookback_through_yesterday_in_the_shop_zone() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let mut runs = 0;
    for db in common::backends().await {
        runs += 1;
        let server = MockServer::start().await;
        let today = kpid::period::today(chrono_tz::Pacific::Kiritimati);
        let yesterday = today - chrono::Duration::days(1);
        let start = today - chrono::Duration::days(3);
        let ymd = |d: LocalDay| d.date().format("%Y-%m-%d").to_string();
        Mock::given(method("POST"))
            .and(path(REPORT))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_partial_json(json!({
                "dateRanges": [{ "startDate": ymd(start), "endDate": ymd(yesterday) }]
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(report(
                vec![row(
                    &yesterday.date().format("%Y%m%d").to_string(),
                    ["50", "20", "5", "25", "20", "700"],
                )],
                1,
            )))
            .expect(1)
            .mount(&server)
            .await;
        let token_file = db.write("ga4.token", TOKEN);
        let settings = db.settings(&token_config(
            &server,
            &token_file.display().to_string(),
            "Pacific/Kiritimati",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        let v = InputValues::load(&db.store, "pl", Period::Day(yesterday))
            .await
            .unwrap();
        assert_eq!(v.get("pv"), Some(d("50")), "{}", db.backend);
        assert_eq!(v.get("bounces"), Some(d("5")), "{}", db.backend);
        server.verify().await;
        db.drop_db().await;
    }
    // The mock's property reports in Asia/Shanghai, not the shop's zone:
    // logged (once per run), and GA4's days stored as they come (above).
    let text = logs.text();
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("another time zone than the shop's"))
        .collect();
    assert_eq!(warned.len(), runs, "{text}");
    assert!(
        warned.iter().all(|l| l.contains("ga4-pl")
            && l.contains("Asia/Shanghai")
            && l.contains("Pacific/Kiritimati")),
        "{text}"
    );
}
