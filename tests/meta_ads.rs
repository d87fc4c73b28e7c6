//! Meta Ads (the `connectors/meta_ads.toml` definition) against a loopback mock speaking the Graph API
//! insights edge: `GET /v23.0/act_{id}/insights` with `level=campaign`,
//! `time_increment=1`, `time_range`, `limit` and `access_token`, cursor
//! pages announced by `paging.next`, numbers as strings, and throttling as
//! HTTP 400 with code 17. Rows are built on the real insights fixtures
//! (tests/fixtures/meta); the last page is a fixture served as it is.

mod common;

use chrono::Duration;
use common::facts::{d, failure};
use common::logs::Logs;
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector};
use kpid::period::LocalDay;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const INSIGHTS: &str = "/v23.0/act_1234567890/insights";
const TOKEN: &str = "EAAGm0PX4ZCpsBA-SECRET-long-lived-5521";
const FIELDS: &str = "campaign_id,spend,impressions,clicks,actions,action_values";
const INSIGHTS_1: &str = include_str!("fixtures/meta/insights_1.json");
const INSIGHTS_2: &str = include_str!("fixtures/meta/insights_2.json");
const A: &str = "23851000000000001";
const B: &str = "23851000000000002";

fn day(s: &str) -> LocalDay {
    LocalDay::parse_ymd(s).unwrap()
}

/// A campaign-day row on the shape of a fixture's row (its string
/// `clicks` and `spend` unless given), with the campaign, one day, and
/// the other fields added.
fn row(fixture: &str, campaign: &str, on: &str, spend: Option<&str>, extra: Value) -> Value {
    let page: Value = serde_json::from_str(fixture).unwrap();
    let mut r = page["data"][0].clone();
    r["campaign_id"] = json!(campaign);
    r["date_start"] = json!(on);
    r["date_stop"] = json!(on);
    if let Some(s) = spend {
        r["spend"] = json!(s);
    }
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn actions(list: &[(&str, &str)]) -> Value {
    Value::Array(
        list.iter()
            .map(|(t, v)| json!({ "action_type": t, "value": v }))
            .collect(),
    )
}

fn page(server: &str, data: Vec<Value>, after: &str) -> Value {
    json!({
        "data": data,
        "paging": {
            "cursors": { "before": "QVFIUmJlZm9yZQ", "after": after },
            "next": format!("{server}{INSIGHTS}?access_token={TOKEN}&level=campaign&time_increment=1&limit=2&after={after}")
        }
    })
}

fn meta_error(code: u32, subcode: u32, message: &str) -> Value {
    json!({ "error": {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "error_subcode": subcode,
        "is_transient": code != 190,
        "fbtrace_id": "AQx1bqT3Yp9Wk0"
    }})
}

/// Four pages for 2024-06-21..24; the second is throttled once.
struct InsightsEndpoint {
    server: String,
    throttled: AtomicBool,
    bad_requests: Arc<Mutex<Vec<String>>>,
}

impl Respond for InsightsEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q = |k: &str| {
            req.url
                .query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        let range: Value = q("time_range")
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        if q("access_token").as_deref() != Some(TOKEN)
            || q("level").as_deref() != Some("campaign")
            || q("time_increment").as_deref() != Some("1")
            || q("fields").as_deref() != Some(FIELDS)
            || q("limit").as_deref() != Some("2")
            || range != json!({ "since": "2024-06-21", "until": "2024-06-24" })
        {
            self.bad_requests
                .lock()
                .unwrap()
                .push(req.url.path().to_string());
            return ResponseTemplate::new(400).set_body_json(meta_error(
                100,
                1487,
                "Invalid parameter",
            ));
        }
        let s = self.server.as_str();
        match q("after").as_deref() {
            None => ResponseTemplate::new(200).set_body_json(page(
                s,
                vec![
                    row(
                        INSIGHTS_1,
                        A,
                        "2024-06-21",
                        None,
                        json!({
                            "impressions": "10234",
                            "actions": actions(&[
                                ("link_click", "190"),
                                ("landing_page_view", "150"),
                                ("offsite_conversion.fb_pixel_purchase", "2"),
                                ("purchase", "3"),
                                ("omni_purchase", "3"),
                            ]),
                            "action_values": actions(&[
                                ("offsite_conversion.fb_pixel_purchase", "259.80"),
                                ("purchase", "389.70"),
                                ("omni_purchase", "389.70"),
                            ]),
                        }),
                    ),
                    row(
                        INSIGHTS_2,
                        B,
                        "2024-06-21",
                        None,
                        json!({
                            "impressions": "8800",
                            "actions": actions(&[
                                ("landing_page_view", "400"),
                                ("offsite_conversion.fb_pixel_purchase", "4"),
                            ]),
                            "action_values": actions(&[("offsite_conversion.fb_pixel_purchase", "512.4")]),
                        }),
                    ),
                ],
                "QVFIUk1",
            )),
            Some("QVFIUk1") if !self.throttled.swap(true, Ordering::SeqCst) => {
                ResponseTemplate::new(400)
                    .insert_header(
                        "x-business-use-case-usage",
                        r#"{"1234567890":[{"type":"ads_insights","call_count":100,"total_cputime":12,"total_time":31,"estimated_time_to_regain_access":0}]}"#,
                    )
                    .set_body_json(meta_error(17, 2446079, "(#17) User request limit reached"))
            }
            Some("QVFIUk1") => ResponseTemplate::new(200).set_body_json(page(
                s,
                vec![
                    row(
                        INSIGHTS_1,
                        A,
                        "2024-06-22",
                        Some("57.3"),
                        json!({
                            "impressions": "2000", "clicks": "40",
                            "actions": actions(&[
                                ("purchase", "1"),
                                ("offsite_conversion.fb_pixel_purchase", "1"),
                            ]),
                            "action_values": actions(&[("purchase", "45.5")]),
                        }),
                    ),
                    // A spend Meta would never send: set aside, with its text.
                    row(INSIGHTS_2, B, "2024-06-22", Some("12,50"), json!({ "impressions": "99" })),
                ],
                "QVFIUk2",
            )),
            Some("QVFIUk2") => ResponseTemplate::new(200).set_body_json(page(
                s,
                vec![
                    row(INSIGHTS_1, A, "2024-06-23", Some("0.01"), json!({ "impressions": "3", "clicks": "0" })),
                    row(
                        INSIGHTS_2,
                        B,
                        "2024-06-23",
                        Some("180"),
                        json!({
                            "impressions": "5000", "clicks": "200",
                            "actions": actions(&[("omni_purchase", "2"), ("purchase", "2")]),
                            "action_values": actions(&[("omni_purchase", "99.98"), ("purchase", "99.98")]),
                        }),
                    ),
                ],
                "QVFIUk3",
            )),
            // The fixture as it is: cursors but no `next` (the last page), and
            // an account-level row over four days, which is set aside.
            Some("QVFIUk3") => ResponseTemplate::new(200).set_body_raw(INSIGHTS_1, "application/json"),
            Some(other) => {
                self.bad_requests.lock().unwrap().push(other.to_string());
                ResponseTemplate::new(400).set_body_json(meta_error(100, 0, "bad cursor"))
            }
        }
    }
}

fn config(server: &MockServer, token_file: &str, tz: &str) -> String {
    format!(
        r#"
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "uk"
timezone = "{tz}"
[[connectors]]
name = "meta"
kind = "meta_ads"
shop = "uk"
base_url = "{}"
ad_account_id = "act_1234567890"
access_token_file = "{token_file}"
requests_per_second = 0
page_size = 2
"#,
        server.uri()
    )
}

async fn fact(db: &common::TestDb, on: &str, input: &str, campaign: &str) -> Option<Decimal> {
    common::facts::daily_value(db, "uk", day(on), input, campaign).await
}

#[tokio::test(flavor = "current_thread")]
async fn insights_pages_follow_the_cursor_retry_throttle_and_set_bad_rows_aside() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let server = MockServer::start().await;
        let bad_requests = Arc::new(Mutex::new(Vec::new()));
        Mock::given(method("GET"))
            .and(path(INSIGHTS))
            .respond_with(InsightsEndpoint {
                server: server.uri(),
                throttled: AtomicBool::new(false),
                bad_requests: bad_requests.clone(),
            })
            // Four pages and one throttled attempt, then four pages again.
            .expect(9)
            .mount(&server)
            .await;
        let token_file = db.write("meta.token", &format!("{TOKEN}\n"));
        let settings = db.settings(&config(
            &server,
            &token_file.display().to_string(),
            "Europe/London",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let window = Window {
            from: Some(day("2024-06-21")),
            to: Some(day("2024-06-24")),
        };
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(
            run.error.is_none(),
            "{}: {:?} {:?}",
            db.backend,
            run.error,
            bad_requests.lock().unwrap()
        );
        // Five campaign-days of six inputs; two rows set aside.
        assert_eq!(run.stats.records, 30, "{}", db.backend);
        assert_eq!(run.stats.rejects, 2, "{}", db.backend);
        let rejects = db.store.rejects("meta").await.unwrap();
        assert_eq!(rejects.len(), 2, "{}", db.backend);
        let bad_spend = rejects
            .iter()
            .find(|r| r.locator == format!("campaign {B} day 2024-06-22"))
            .expect("the bad spend is set aside");
        assert!(bad_spend.reason.contains("spend"), "{}", bad_spend.reason);
        assert!(
            bad_spend.raw.contains(r#""spend":"12,50""#),
            "{}",
            bad_spend.raw
        );
        assert_eq!(bad_spend.source, format!("{}{INSIGHTS}", server.uri()));
        let fixture_row = rejects
            .iter()
            .find(|r| r.locator == "2024-06-21 page 4 record 1")
            .expect("the fixture's account-level row is set aside");
        assert!(
            fixture_row.reason.contains("campaign_id"),
            "{}",
            fixture_row.reason
        );
        assert!(
            fixture_row.raw.contains(r#""spend":"361.79""#),
            "{}",
            fixture_row.raw
        );

        for (on, campaign, input, v) in [
            // omni_purchase taken; purchase and the pixel's count not added.
            ("2024-06-21", A, "ad_spend", "361.79"),
            ("2024-06-21", A, "ad_impressions", "10234"),
            ("2024-06-21", A, "ad_clicks", "204"),
            ("2024-06-21", A, "ad_orders", "3"),
            ("2024-06-21", A, "ad_gmv", "389.7"),
            ("2024-06-21", A, "ad_arrivals", "150"),
            // Only the pixel's purchases reported.
            ("2024-06-21", B, "ad_spend", "280"),
            ("2024-06-21", B, "ad_impressions", "8800"),
            ("2024-06-21", B, "ad_clicks", "450"),
            ("2024-06-21", B, "ad_orders", "4"),
            ("2024-06-21", B, "ad_gmv", "512.4"),
            ("2024-06-21", B, "ad_arrivals", "400"),
            // `purchase` before the pixel's; no landing page views: 0.
            ("2024-06-22", A, "ad_spend", "57.3"),
            ("2024-06-22", A, "ad_impressions", "2000"),
            ("2024-06-22", A, "ad_clicks", "40"),
            ("2024-06-22", A, "ad_orders", "1"),
            ("2024-06-22", A, "ad_gmv", "45.5"),
            ("2024-06-22", A, "ad_arrivals", "0"),
            ("2024-06-23", A, "ad_spend", "0.01"),
            ("2024-06-23", A, "ad_clicks", "0"),
            ("2024-06-23", A, "ad_orders", "0"),
            ("2024-06-23", A, "ad_gmv", "0"),
            ("2024-06-23", B, "ad_spend", "180"),
            ("2024-06-23", B, "ad_impressions", "5000"),
            ("2024-06-23", B, "ad_clicks", "200"),
            ("2024-06-23", B, "ad_orders", "2"),
            ("2024-06-23", B, "ad_gmv", "99.98"),
        ] {
            assert_eq!(
                fact(&db, on, input, campaign).await,
                Some(d(v)),
                "{} {on} {campaign} {input}",
                db.backend
            );
        }
        for input in [
            "ad_spend",
            "ad_impressions",
            "ad_clicks",
            "ad_orders",
            "ad_gmv",
            "ad_arrivals",
        ] {
            assert_eq!(fact(&db, "2024-06-22", input, B).await, None, "{input}");
            assert_eq!(fact(&db, "2024-06-24", input, A).await, None, "{input}");
        }

        // The same window again stores nothing new.
        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.records, 30, "{}", db.backend);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        assert!(
            bad_requests.lock().unwrap().is_empty(),
            "{:?}",
            bad_requests.lock().unwrap()
        );
        server.verify().await;
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(
        text.contains("retrying"),
        "the throttle was logged and retried"
    );
    assert!(text.contains("throttled"), "{text}");
    logs.assert_free_of(&[TOKEN, "SECRET"]);
}

#[tokio::test]
async fn expired_access_token_fails_at_once_naming_it() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(INSIGHTS))
            .and(query_param("access_token", TOKEN))
            .respond_with(ResponseTemplate::new(400).set_body_json(meta_error(
                190,
                463,
                "Error validating access token: Session has expired on Friday, 27-Nov-26 04:00:00 PST.",
            )))
            .expect(1)
            .mount(&server)
            .await;
        let token_file = db.write("meta.token", TOKEN);
        let settings = db.settings(&config(
            &server,
            &token_file.display().to_string(),
            "Europe/London",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let one = Some(day("2024-06-21"));
        let run = run_connector(&db.store, &connectors[0], Window { from: one, to: one }).await;
        failure(
            &run,
            "an expired token fails the run",
            &["meta", "access_token", "400"],
            &[TOKEN, "SECRET"],
        );
        server.verify().await;
        db.drop_db().await;
    }
}

/// A scheduled run asks for `lookback_days` before today through today in
/// the shop's zone (Kiritimati is UTC+14) and stores the day reached.
#[tokio::test]
async fn scheduled_run_asks_for_the_lookback_through_today() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        let today = kpid::period::today(chrono_tz::Pacific::Kiritimati);
        let ymd = |d: LocalDay| d.date().format("%Y-%m-%d").to_string();
        let range =
            json!({ "since": ymd(today - Duration::days(3)), "until": ymd(today) }).to_string();
        Mock::given(method("GET"))
            .and(path(INSIGHTS))
            .and(query_param("access_token", TOKEN))
            .and(query_param("time_range", range.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [{
                    "campaign_id": A, "date_start": ymd(today), "date_stop": ymd(today),
                    "spend": "12.34", "impressions": "100", "clicks": "7"
                }],
                "paging": { "cursors": { "before": "MAZDZD", "after": "MAZDZD" } }
            })))
            .expect(1)
            .mount(&server)
            .await;
        let token_file = db.write("meta.token", TOKEN);
        let settings = db.settings(&config(
            &server,
            &token_file.display().to_string(),
            "Pacific/Kiritimati",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        assert_eq!(
            fact(&db, &ymd(today), "ad_spend", A).await,
            Some(d("12.34"))
        );
        assert_eq!(fact(&db, &ymd(today), "ad_clicks", A).await, Some(d("7")));
        assert_eq!(
            db.store.cursor("meta", "daily").await.unwrap(),
            Some(ymd(today))
        );
        server.verify().await;
        db.drop_db().await;
    }
}

/// Option mistakes are reported when the configuration loads, naming the key.
#[test]
fn configuration_errors_name_the_key() {
    let load = |options: &str| {
        common::facts::load_config(&format!(
            r#"
timezone = "Asia/Shanghai"
[storage]
url = "sqlite://{{dir}}/kpid.db"
[[shops]]
id = "uk"
[[connectors]]
name = "meta"
kind = "meta_ads"
shop = "uk"
{options}
"#
        ))
    };
    assert!(load("ad_account_id = \"act_1\"\naccess_token = \"t\"").is_ok());
    assert!(load("ad_account_id = \"1\"\naccess_token = \"t\"").is_ok());
    let e = load("ad_account_id = \"act_x1\"\naccess_token = \"t\"").unwrap_err();
    assert!(e.contains("ad_account_id"), "{e}");
    let e = load("ad_account_id = \"1\"\naccess_token = \"t\"\npage_size = 0").unwrap_err();
    assert!(e.contains("page_size"), "{e}");
    let e = load("ad_account_id = \"1\"\naccess_tokn = \"t\"").unwrap_err();
    assert!(e.contains("access_tokn"), "{e}");
}

/// `X-Business-Use-Case-Usage` names the wait: an hour is beyond the retry
/// budget, so the run stops after one request instead of hammering Meta
/// with backoff retries (which it would do without the header).
#[tokio::test]
async fn a_named_wait_beyond_the_retry_budget_ends_the_run_at_once() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(INSIGHTS))
            .respond_with(
                ResponseTemplate::new(400)
                    .insert_header(
                        "x-business-use-case-usage",
                        r#"{"1234567890":[{"type":"ads_insights","call_count":100,"total_cputime":100,"total_time":100,"estimated_time_to_regain_access":60}]}"#,
                    )
                    .set_body_json(meta_error(80004, 2446079, "There have been too many calls to this ad-account.")),
            )
            .expect(1)
            .mount(&server)
            .await;
        let token_file = db.write("meta.token", TOKEN);
        let settings = db.settings(&config(
            &server,
            &token_file.display().to_string(),
            "Europe/London",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let one = Some(day("2024-06-21"));
        let started = std::time::Instant::now();
        let run = run_connector(&db.store, &connectors[0], Window { from: one, to: one }).await;
        let msg = run.error.expect("an hour's ban fails the run").to_string();
        assert!(
            msg.contains("throttled") && msg.contains("retry after 3600"),
            "{msg}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        server.verify().await;
        db.drop_db().await;
    }
}

/// Maps one insights page with the built-in definition, as the engine does.
fn map_page(body: Value) -> kpid::facts::Batch {
    use kpid::connectors::declarative::{mapping::Mapper, Definitions};
    let def = Definitions::builtin().get("meta_ads").expect("built in");
    let mapper = Mapper {
        stream: Arc::new(def.streams[0].clone()),
        shop: "s".into(),
        tz: chrono_tz::Europe::London,
        source: "u".into(),
        page_no: 1,
        slice: "2024-06-21".into(),
        errors: None,
    };
    mapper.page(body.to_string().as_bytes()).unwrap().0
}

fn input(batch: &kpid::facts::Batch, day: &str, name: &str) -> Option<i64> {
    batch
        .daily
        .iter()
        .find(|v| v.input == name && v.day.to_string() == day)
        .and_then(|v| v.value_micros)
}

#[test]
fn one_purchase_type_is_taken_never_added() {
    let batch = map_page(json!({ "data": [
        {"campaign_id":"2385","date_start":"2024-06-21","date_stop":"2024-06-21",
         "spend":"361.79","impressions":"10000","clicks":"204",
         "actions":[{"action_type":"offsite_conversion.fb_pixel_purchase","value":"2"},
                    {"action_type":"purchase","value":"3"},
                    {"action_type":"omni_purchase","value":"3"},
                    {"action_type":"landing_page_view","value":"150"}],
         "action_values":[{"action_type":"purchase","value":"389.70"},
                          {"action_type":"offsite_conversion.fb_pixel_purchase","value":"259.80"}]},
        // No purchase at all: zero, as Meta omits zero actions.
        {"campaign_id":"2385","date_start":"2024-06-22","date_stop":"2024-06-22","spend":"280","impressions":"9","clicks":"1"}
    ]}));
    assert!(batch.rejects.is_empty(), "{:?}", batch.rejects);
    assert_eq!(input(&batch, "2024-06-21", "ad_spend"), Some(361_790_000));
    assert_eq!(input(&batch, "2024-06-21", "ad_orders"), Some(3_000_000));
    assert_eq!(input(&batch, "2024-06-21", "ad_gmv"), Some(389_700_000));
    assert_eq!(
        input(&batch, "2024-06-21", "ad_arrivals"),
        Some(150_000_000)
    );
    assert_eq!(input(&batch, "2024-06-22", "ad_orders"), Some(0));
    assert_eq!(input(&batch, "2024-06-22", "ad_spend"), Some(280_000_000));
}

#[test]
fn a_multi_day_row_or_a_fractional_count_is_refused() {
    // The shared fixtures' rows span 2024-06-21..24.
    let batch = map_page(json!({ "data": [
        {"clicks":"204","spend":"361.79","date_start":"2024-06-21","date_stop":"2024-06-24","campaign_id":"1"},
        {"clicks":"2.5","spend":"1","date_start":"2024-06-21","date_stop":"2024-06-21","campaign_id":"2"}
    ]}));
    assert!(batch.daily.is_empty(), "{:?}", batch.daily);
    let [multi, fraction] = &batch.rejects[..] else {
        panic!("{:?}", batch.rejects)
    };
    assert_eq!(multi.locator, "campaign 1 day 2024-06-21");
    assert!(multi.reason.contains("date_stop"), "{}", multi.reason);
    assert!(multi.reason.contains("2024-06-24"), "{}", multi.reason);
    assert_eq!(fraction.locator, "campaign 2 day 2024-06-21");
    assert!(
        fraction.reason.contains("whole count"),
        "{}",
        fraction.reason
    );
}
