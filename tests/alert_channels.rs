//! Alert delivery channels against servers on loopback: wiremock for the
//! robots and webhooks (the signatures checked with the test's own HMAC),
//! a real Alertmanager (`prometheus-alertmanager`), and a minimal SMTP
//! server of the test's own.

mod common;

use base64::Engine;
use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use kpid::alerts::channels::{Channel, ChannelConfig};
use kpid::alerts::message::{
    AlertGroup, AlertNotice, AlertState, Digest, DigestLine, Language, Message, RenderOptions,
    ShopDigest, WatchPeriod,
};
use kpid::kpi::catalogue::{Direction, Unit};
use rust_decimal::Decimal;
use serde_json::Value;
use sha2::Sha256;
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "robot-token-5f2a9c";
const SECRET: &str = "SECd41d8cd98f00b204e9800998ecf8427e";

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn channel(toml_text: &str) -> Channel {
    toml::from_str::<ChannelConfig>(toml_text)
        .unwrap()
        .build()
        .unwrap()
}

fn options(language: Language) -> RenderOptions {
    RenderOptions {
        language,
        dashboard_url: Some("https://kpi.example.com/d/shops".into()),
    }
}

fn gmv_alert(state: AlertState) -> AlertNotice {
    AlertNotice {
        rule: "gmv-behind".into(),
        kpi: "gmv".into(),
        kpi_name_zh: "成交额".into(),
        kpi_name_en: "GMV".into(),
        unit: Unit::Money,
        direction: Direction::Up,
        period: WatchPeriod::Month,
        period_label: "2026-10-01..2026-10-09".into(),
        shop: Some("tmall-main".into()),
        person: None,
        state,
        severity: "critical".into(),
        condition: "below_target".into(),
        value: Some(d("1234567.891")),
        target: Some(d("5000000")),
        threshold: Some(d("1306451.61")),
        attainment: Some(d("0.85")),
        starts_at: Utc.with_ymd_and_hms(2026, 10, 10, 1, 0, 0).unwrap(),
        ends_at: (state == AlertState::Resolved)
            .then(|| Utc.with_ymd_and_hms(2026, 10, 10, 3, 0, 0).unwrap()),
    }
}

fn refund_alert() -> AlertNotice {
    AlertNotice {
        rule: "refunds-high".into(),
        kpi: "refund_rate".into(),
        kpi_name_zh: "退款率".into(),
        kpi_name_en: "Refund rate".into(),
        unit: Unit::Percent,
        direction: Direction::Down,
        period: WatchPeriod::Day,
        period_label: "2026-10-09".into(),
        shop: Some("tmall-main".into()),
        person: None,
        state: AlertState::Firing,
        severity: "warning".into(),
        condition: "below_target".into(),
        value: Some(d("0.081")),
        target: Some(d("0.05")),
        threshold: Some(d("0.05")),
        attainment: Some(d("0.6173")),
        starts_at: Utc.with_ymd_and_hms(2026, 10, 10, 1, 0, 0).unwrap(),
        ends_at: None,
    }
}

fn alerts() -> Message {
    Message::Alerts(AlertGroup {
        scope: "tmall-main".into(),
        alerts: vec![gmv_alert(AlertState::Firing), refund_alert()],
    })
}

fn digest() -> Message {
    Message::Digest(Digest {
        name: "morning".into(),
        shops: vec![ShopDigest {
            shop: "tmall-main".into(),
            currency: "CNY".into(),
            day: "2026-10-09".into(),
            month: "2026-10".into(),
            month_to_date: Some("2026-10-01..2026-10-09".into()),
            lines: vec![
                DigestLine {
                    kpi: "gmv".into(),
                    kpi_name_zh: "成交额".into(),
                    kpi_name_en: "GMV".into(),
                    unit: Unit::Money,
                    direction: Direction::Up,
                    day_value: Some(d("152340.5")),
                    day_target: Some(d("160000")),
                    day_attainment: Some(d("0.9521")),
                    change_previous_day: Some(d("0.052")),
                    change_same_day_last_week: Some(d("-0.031")),
                    month_value: Some(d("1234567.891")),
                    month_target: Some(d("5000000")),
                    month_attainment: Some(d("0.85")),
                },
                DigestLine {
                    kpi: "orders".into(),
                    kpi_name_zh: "订单量".into(),
                    kpi_name_en: "Orders".into(),
                    unit: Unit::Count,
                    direction: Direction::Up,
                    day_value: Some(d("1523")),
                    day_target: Some(d("1600")),
                    day_attainment: Some(d("0.9519")),
                    change_previous_day: None,
                    change_same_day_last_week: Some(d("0.1")),
                    month_value: Some(d("12876")),
                    month_target: Some(d("48000")),
                    month_attainment: Some(d("0.8")),
                },
            ],
            firing: vec![gmv_alert(AlertState::Firing)],
        }],
    })
}

async fn robot(answer: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn json(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

fn query(request: &Request, key: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn dingtalk(server: &MockServer, extra: &str) -> Channel {
    channel(&format!(
        "name = \"ops-dingtalk\"\nkind = \"dingtalk\"\nurl = \"{}/robot/send?access_token={TOKEN}\"\nsecret = \"{SECRET}\"\n{extra}",
        server.uri()
    ))
}

fn assert_contains_all(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "`{part}` missing from:\n{text}");
    }
}

#[tokio::test]
async fn dingtalk_markdown_is_signed_with_timestamp_and_sign_in_the_query() {
    let server = robot(serde_json::json!({"errcode": 0, "errmsg": "ok"})).await;
    let ch = dingtalk(&server, "");
    let before = Utc::now().timestamp_millis();
    let receipt = ch.deliver(&alerts(), &options(Language::En)).await.unwrap();
    let after = Utc::now().timestamp_millis();
    assert!(receipt.detail.contains("ok"), "{receipt:?}");

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.url.path(), "/robot/send");
    assert_eq!(query(r, "access_token").as_deref(), Some(TOKEN));
    let timestamp = query(r, "timestamp").unwrap();
    let ms: i64 = timestamp.parse().unwrap();
    assert!(
        (before..=after).contains(&ms),
        "timestamp in ms of the send"
    );
    // DingTalk's rule, computed here: base64(HMAC-SHA256(secret, ts + "\n" + secret)).
    let expected = b64(&hmac_sha256(
        SECRET.as_bytes(),
        format!("{timestamp}\n{SECRET}").as_bytes(),
    ));
    assert_eq!(query(r, "sign").unwrap(), expected);
    // The raw query carries it URL-encoded (base64's + / = escaped).
    let raw = r.url.query().unwrap();
    let sign_raw = raw.split('&').find(|p| p.starts_with("sign=")).unwrap();
    assert!(!sign_raw[5..].contains(['+', '/', '=']), "{sign_raw}");

    let body = json(r);
    assert_eq!(body["msgtype"], "markdown");
    let text = body["markdown"]["text"].as_str().unwrap();
    assert!(body["markdown"]["title"]
        .as_str()
        .unwrap()
        .contains("firing"));
    assert_contains_all(
        text,
        &[
            "GMV (成交额)",
            "1,234,567.89",
            "5,000,000.00",
            "1,306,451.61",
            "85.00%",
            "month to date",
            "tmall-main",
            "below target",
            "Refund rate (退款率)",
            "8.10%",
            "worse than target",
            "critical",
            "[Open the dashboard](https://kpi.example.com/d/shops)",
        ],
    );
}

#[tokio::test]
async fn dingtalk_markdown_in_chinese_names_the_kpi_value_and_target() {
    let server = robot(serde_json::json!({"errcode": 0, "errmsg": "ok"})).await;
    dingtalk(&server, "")
        .deliver(&alerts(), &options(Language::Zh))
        .await
        .unwrap();
    let body = json(&requests(&server).await[0]);
    let text = body["markdown"]["text"].as_str().unwrap();
    assert_contains_all(
        text,
        &[
            "成交额（GMV）",
            "本月至今",
            "店铺 tmall-main",
            "低于目标",
            "当前值",
            "1,234,567.89",
            "目标",
            "5,000,000.00",
            "完成率",
            "85.00%",
            "退款率（Refund rate）",
            "差于目标",
            "打开看板",
        ],
    );
}

#[tokio::test]
async fn dingtalk_too_fast_is_waited_out_and_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"errcode": 0, "errmsg": "ok"})),
        )
        .mount(&server)
        .await;
    let receipt = dingtalk(&server, "")
        .deliver(&alerts(), &options(Language::Zh))
        .await;
    assert!(receipt.is_ok(), "{receipt:?}");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2, "one refusal, one success");
    // Each attempt is signed afresh.
    for r in &reqs {
        let ts = query(r, "timestamp").unwrap();
        let expected = b64(&hmac_sha256(
            SECRET.as_bytes(),
            format!("{ts}\n{SECRET}").as_bytes(),
        ));
        assert_eq!(query(r, "sign").unwrap(), expected);
    }
}

#[tokio::test]
async fn dingtalk_errcode_is_a_failure_naming_it_and_no_secret() {
    let logs = common::logs::Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let server = robot(serde_json::json!({"errcode": 310000, "errmsg": "sign not match"})).await;
    let err = dingtalk(&server, "")
        .deliver(&alerts(), &options(Language::En))
        .await
        .unwrap_err();
    assert_eq!(err.channel, "ops-dingtalk");
    assert!(
        err.reason.contains("310000") && err.reason.contains("sign not match"),
        "{err}"
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(TOKEN) && !shown.contains(SECRET), "{shown}");
    assert_eq!(requests(&server).await.len(), 1, "not retried");
    logs.assert_free_of(&[TOKEN, SECRET]);
}

#[tokio::test]
async fn feishu_card_is_signed_inside_the_body() {
    let server = robot(serde_json::json!({"code": 0, "msg": "success", "data": {}})).await;
    let ch = channel(&format!(
        "name = \"ops-feishu\"\nkind = \"feishu\"\nurl = \"{}/open-apis/bot/v2/hook/{TOKEN}\"\nsecret = \"{SECRET}\"\n",
        server.uri()
    ));
    let before = Utc::now().timestamp();
    ch.deliver(&alerts(), &options(Language::En)).await.unwrap();
    let after = Utc::now().timestamp();
    let reqs = requests(&server).await;
    let body = json(&reqs[0]);
    assert!(
        reqs[0].url.query().is_none(),
        "Feishu signs in the body, not the URL"
    );
    let ts = body["timestamp"].as_str().unwrap();
    assert!(
        (before..=after).contains(&ts.parse::<i64>().unwrap()),
        "seconds"
    );
    // Feishu's rule, computed here: key = ts + "\n" + secret, message empty.
    let expected = b64(&hmac_sha256(format!("{ts}\n{SECRET}").as_bytes(), b""));
    assert_eq!(body["sign"], expected.as_str());
    assert_eq!(body["msg_type"], "interactive");
    let card = &body["card"];
    assert_eq!(card["header"]["template"], "red");
    assert!(card["header"]["title"]["content"]
        .as_str()
        .unwrap()
        .contains("firing"));
    let text = card["elements"].to_string();
    assert_contains_all(
        &text,
        &[
            "GMV (成交额)",
            "1,234,567.89",
            "5,000,000.00",
            "85.00%",
            "worse than target",
            "https://kpi.example.com/d/shops",
        ],
    );
}

#[tokio::test]
async fn feishu_card_in_chinese_and_a_nonzero_code_fails() {
    let server = robot(serde_json::json!({"code": 0, "msg": "success"})).await;
    let ch = channel(&format!(
        "name = \"ops-feishu\"\nkind = \"feishu\"\nurl = \"{}/hook/{TOKEN}\"\n",
        server.uri()
    ));
    ch.deliver(&alerts(), &options(Language::Zh)).await.unwrap();
    let body = json(&requests(&server).await[0]);
    assert!(body.get("sign").is_none(), "no secret, no signature");
    assert_contains_all(
        &body["card"].to_string(),
        &[
            "成交额（GMV）",
            "当前值",
            "1,234,567.89",
            "目标",
            "5,000,000.00",
            "差于目标",
            "打开看板",
        ],
    );

    let failing = robot(serde_json::json!({"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"})).await;
    let ch = channel(&format!(
        "name = \"ops-feishu\"\nkind = \"feishu\"\nurl = \"{}/hook/{TOKEN}\"\nsecret = \"{SECRET}\"\n",
        failing.uri()
    ));
    let err = ch
        .deliver(&alerts(), &options(Language::Zh))
        .await
        .unwrap_err();
    assert!(
        err.reason.contains("19021") && err.reason.contains("sign match fail"),
        "{err}"
    );
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn digest_as_dingtalk_markdown_and_feishu_card_in_both_languages() {
    for language in [Language::Zh, Language::En] {
        let ding = robot(serde_json::json!({"errcode": 0, "errmsg": "ok"})).await;
        dingtalk(&ding, "")
            .deliver(&digest(), &options(language))
            .await
            .unwrap();
        let markdown = json(&requests(&ding).await[0])["markdown"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        let feishu = robot(serde_json::json!({"code": 0})).await;
        channel(&format!(
            "name = \"f\"\nkind = \"feishu\"\nurl = \"{}/hook/x\"\n",
            feishu.uri()
        ))
        .deliver(&digest(), &options(language))
        .await
        .unwrap();
        let card = json(&requests(&feishu).await[0])["card"].to_string();
        let common_parts = [
            "tmall-main",
            "2026-10-09",
            "152,340.50",
            "160,000.00",
            "95.21%",
            "+5.20%",
            "-3.10%",
            "1,234,567.89",
            "5,000,000.00",
            "85.00%",
            "1,523",
            "12,876",
            "48,000",
        ];
        let words: &[&str] = match language {
            Language::Zh => &[
                "成交额（GMV）",
                "订单量（Orders）",
                "昨日",
                "本月至今",
                "较前一日",
                "较上周同日",
                "告警中的规则",
            ],
            Language::En => &[
                "GMV (成交额)",
                "Orders (订单量)",
                "Yesterday",
                "Month to date",
                "vs day before",
                "vs same day last week",
                "Alerts firing",
            ],
        };
        for text in [&markdown, &card] {
            assert_contains_all(text, &common_parts);
            assert_contains_all(text, words);
        }
    }
}

#[tokio::test]
async fn wecom_cuts_long_chinese_markdown_at_4096_bytes_with_a_note() {
    let server = robot(serde_json::json!({"errcode": 0, "errmsg": "ok"})).await;
    let ch = channel(&format!(
        "name = \"ops-wecom\"\nkind = \"wecom\"\nurl = \"{}/cgi-bin/webhook/send?key={TOKEN}\"\n",
        server.uri()
    ));
    let many = Message::Alerts(AlertGroup {
        scope: "tmall-main".into(),
        alerts: (0..40).map(|_| gmv_alert(AlertState::Firing)).collect(),
    });
    ch.deliver(&many, &options(Language::Zh)).await.unwrap();
    let body = json(&requests(&server).await[0]);
    assert_eq!(body["msgtype"], "markdown");
    let content = body["markdown"]["content"].as_str().unwrap();
    assert!(content.len() <= 4096, "{} bytes", content.len());
    assert!(content.len() > 4000, "cut near the limit, not far below it");
    assert!(
        content.ends_with("（消息过长，已截断）"),
        "a note says it was cut"
    );
    assert!(content.starts_with("### kpid 告警"));

    let failing =
        robot(serde_json::json!({"errcode": 93000, "errmsg": "invalid webhook url"})).await;
    let ch = channel(&format!(
        "name = \"ops-wecom\"\nkind = \"wecom\"\nurl = \"{}/cgi-bin/webhook/send?key={TOKEN}\"\n",
        failing.uri()
    ));
    let err = ch
        .deliver(&alerts(), &options(Language::Zh))
        .await
        .unwrap_err();
    assert!(err.reason.contains("93000"), "{err}");
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn slack_gets_blocks_with_a_text_fallback() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "name = \"ops-slack\"\nkind = \"slack\"\nurl = \"{}/services/T000/B000/{TOKEN}\"\n",
        server.uri()
    ));
    assert_eq!(
        ch.deliver(&alerts(), &options(Language::En))
            .await
            .unwrap()
            .detail,
        "ok"
    );
    let body = json(&requests(&server).await[0]);
    assert_contains_all(
        body["text"].as_str().unwrap(),
        &["GMV (成交额)", "1,234,567.89"],
    );
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks.iter().any(|b| b["type"] == "section"
        && b["text"]["type"] == "mrkdwn"
        && b["text"]["text"].as_str().unwrap().contains("5,000,000.00")));
    assert!(blocks
        .iter()
        .any(|b| b.to_string().contains("<https://kpi.example.com/d/shops|")));
}

#[tokio::test]
async fn webhook_body_carries_labels_and_a_verifiable_signature() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/kpid"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "name = \"hook\"\nkind = \"webhook\"\nurl = \"{}/hooks/kpid\"\nsecret = \"{SECRET}\"\n",
        server.uri()
    ));
    ch.deliver(&alerts(), &options(Language::En)).await.unwrap();
    let r = &requests(&server).await[0];
    let expected = format!(
        "sha256={}",
        hmac_sha256(SECRET.as_bytes(), &r.body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    assert_eq!(
        r.headers.get("x-kpid-signature").unwrap().to_str().unwrap(),
        expected
    );
    let body = json(r);
    assert_eq!(body["type"], "alerts");
    let first = &body["alerts"][0];
    assert_eq!(first["labels"]["alertname"], "gmv-behind");
    assert_eq!(first["labels"]["shop"], "tmall-main");
    assert_eq!(first["labels"]["period"], "month");
    assert_eq!(first["state"], "firing");
    assert_eq!(first["value"], "1234567.891");
    assert_eq!(first["target"], "5000000");
    assert!(body["text"].as_str().unwrap().contains("GMV (成交额)"));
}

#[tokio::test]
async fn http_500_is_retried_then_fails_without_the_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream down"))
        .mount(&server)
        .await;
    let ch = channel(&format!(
        "name = \"hook\"\nkind = \"webhook\"\nurl = \"{}/hooks/{TOKEN}\"\nretries = 2\n",
        server.uri()
    ));
    let err = ch
        .deliver(&alerts(), &options(Language::En))
        .await
        .unwrap_err();
    assert_eq!(
        requests(&server).await.len(),
        3,
        "the first attempt and 2 retries"
    );
    assert_eq!(err.channel, "hook");
    assert!(
        err.reason.contains("500") && err.reason.contains("upstream down"),
        "{err}"
    );
    assert!(
        !err.to_string().contains(TOKEN) && !err.to_string().contains("/hooks/"),
        "{err}"
    );
}

#[tokio::test]
async fn a_slow_or_broken_channel_does_not_hold_up_another() {
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&slow)
        .await;
    let fast = robot(serde_json::json!({"errcode": 0, "errmsg": "ok"})).await;
    let slow_ch = channel(&format!(
        "name = \"slow\"\nkind = \"webhook\"\nurl = \"{}/x\"\ntimeout_seconds = 2\n",
        slow.uri()
    ));
    let fast_ch = dingtalk(&fast, "");
    let started = Instant::now();
    let message = alerts();
    let opts = options(Language::Zh);
    let fast_done = async {
        let r = fast_ch.deliver(&message, &opts).await;
        (r, started.elapsed())
    };
    let slow_done = async {
        let r = slow_ch.deliver(&message, &opts).await;
        (r, started.elapsed())
    };
    let ((fast_result, fast_took), (slow_result, slow_took)) = tokio::join!(fast_done, slow_done);
    assert!(fast_result.is_ok());
    assert!(fast_took < Duration::from_secs(1), "{fast_took:?}");
    let err = slow_result.unwrap_err();
    assert!(
        err.reason.contains("within 2s") || err.reason.contains("no answer in time"),
        "{err}"
    );
    assert!(
        slow_took < Duration::from_secs(4),
        "time-limited: {slow_took:?}"
    );
}

#[tokio::test]
async fn secrets_come_from_env_and_file_and_missing_ones_are_named() {
    let server = robot(serde_json::json!({"errcode": 0, "errmsg": "ok"})).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    std::env::set_var(
        "KPID_TEST_ALERT_DINGTALK_URL",
        format!("{}/robot/send?access_token={TOKEN}", server.uri()),
    );
    let ch = channel(&format!(
        "name = \"d\"\nkind = \"dingtalk\"\nurl_env = \"KPID_TEST_ALERT_DINGTALK_URL\"\nsecret_file = \"{}\"\n",
        file.display()
    ));
    ch.deliver(
        &Message::Test {
            channel: "d".into(),
        },
        &options(Language::En),
    )
    .await
    .unwrap();
    let r = &requests(&server).await[0];
    let ts = query(r, "timestamp").unwrap();
    let expected = b64(&hmac_sha256(
        SECRET.as_bytes(),
        format!("{ts}\n{SECRET}").as_bytes(),
    ));
    assert_eq!(
        query(r, "sign").unwrap(),
        expected,
        "the file's secret, newline trimmed"
    );

    let cfg: ChannelConfig = toml::from_str(
        "name = \"d\"\nkind = \"dingtalk\"\nurl_env = \"KPID_TEST_ALERT_UNSET_VAR\"\n",
    )
    .unwrap();
    let e = cfg.build().unwrap_err();
    assert_eq!(e.key, "url");
    assert!(e.message.contains("KPID_TEST_ALERT_UNSET_VAR"), "{e}");
    let cfg: ChannelConfig = toml::from_str(&format!(
        "name = \"d\"\nkind = \"slack\"\nurl = \"not a url {TOKEN}\"\n"
    ))
    .unwrap();
    let e = cfg.build().unwrap_err();
    assert_eq!(e.key, "url");
    assert!(!e.to_string().contains(TOKEN), "{e}");
}
