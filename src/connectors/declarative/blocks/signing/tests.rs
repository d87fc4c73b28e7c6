//! Expected digests come from the hash crates over strings written out
//! by hand here, or from Python (command beside each vector) — never
//! from the signer under test.
use super::*;
use chrono::TimeZone;
use serde_json::json;
use sha2::Sha256;

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An app key with its token and secret, owned for [`SigningKeys`] to
/// borrow.
struct Keys {
    app: &'static str,
    token: SecretString,
    secret: SecretString,
}

fn keys(app: &'static str, token: &str, app_secret: &str) -> Keys {
    Keys {
        app,
        token: secret(token),
        secret: secret(app_secret),
    }
}

impl Keys {
    fn signing(&self) -> SigningKeys<'_> {
        SigningKeys {
            app: self.app,
            token: Some(&self.token),
            secret: &self.secret,
        }
    }
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 2024-03-01 00:30:00 UTC = 2024-03-01 08:30:00 GMT+8, Unix 1709253000.
fn instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 30, 0).unwrap()
}

fn top_business() -> Params {
    params(&[
        ("fields", "tid,type,status,payment,orders"),
        ("start_modified", "2024-02-29 00:00:00"),
        ("end_modified", "2024-03-01 00:00:00"),
        ("page_no", "3"),
        ("page_size", "100"),
        ("use_has_next", ""),
    ])
}

/// The string TOP signs for `top_business()` with the `instant()` system
/// params, written out by hand: sorted by name, `sign` and empty values
/// (`use_has_next`) left out.
fn top_string(sign_method: &str) -> String {
    format!(
        "app_keyk123end_modified2024-03-01 00:00:00fieldstid,type,status,payment,orders\
         formatjsonmethodtaobao.trades.sold.increment.getpage_no3page_size100\
         sessionsess-XYZsign_method{sign_method}start_modified2024-02-29 00:00:00\
         timestamp2024-03-01 08:30:00v2.0"
    )
}

#[test]
fn gmt8_timestamp_is_eight_hours_ahead_of_utc() {
    assert_eq!(gmt8_timestamp(instant()), "2024-03-01 08:30:00");
    let late = Utc.with_ymd_and_hms(2024, 2, 29, 17, 5, 9).unwrap();
    assert_eq!(gmt8_timestamp(late), "2024-03-01 01:05:09");
}

#[test]
fn top_system_params_are_complete() {
    let s = secret("sess-XYZ");
    let p = top_system_params(
        "taobao.trades.sold.increment.get",
        "k123",
        Some(&s),
        TopSignMethod::Hmac,
        instant(),
    );
    assert_eq!(
        p,
        params(&[
            ("method", "taobao.trades.sold.increment.get"),
            ("app_key", "k123"),
            ("session", "sess-XYZ"),
            ("timestamp", "2024-03-01 08:30:00"),
            ("format", "json"),
            ("v", "2.0"),
            ("sign_method", "hmac"),
        ])
    );
    let p = top_system_params("taobao.time.get", "k", None, TopSignMethod::Md5, instant());
    assert!(!p.contains_key("session"));
}

/// The `sign` of the `top_string` call, signed with `s3cr3t` by `method`.
fn top_call_sign(method: TopSignMethod) -> String {
    let p = top_signed(
        "taobao.trades.sold.increment.get",
        &keys("k123", "sess-XYZ", "s3cr3t").signing(),
        method,
        &top_business(),
        instant(),
    );
    p["sign"].clone()
}

#[test]
fn top_md5_matches_an_independent_digest() {
    let sign = top_call_sign(TopSignMethod::Md5);
    let expected = upper_hex(&Md5::digest(
        format!("s3cr3t{}s3cr3t", top_string("md5")).as_bytes(),
    ));
    assert_eq!(sign, expected);
    assert_eq!(sign.len(), 32);
    assert!(sign
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
}

#[test]
fn top_hmac_md5_matches_an_independent_digest() {
    let mut mac = Hmac::<Md5>::new_from_slice(b"s3cr3t").unwrap();
    mac.update(top_string("hmac").as_bytes());
    assert_eq!(
        top_call_sign(TopSignMethod::Hmac),
        upper_hex(&mac.finalize().into_bytes())
    );
}

#[test]
fn top_hmac_sha256_matches_an_independent_digest() {
    let sign = top_call_sign(TopSignMethod::HmacSha256);
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cr3t").unwrap();
    mac.update(top_string("hmac-sha256").as_bytes());
    assert_eq!(sign, upper_hex(&mac.finalize().into_bytes()));
    assert_eq!(sign.len(), 64);
}

/// Fixed vectors from Python, over `bar2foo1foo_bar3`:
/// python3 -c 'import hashlib,hmac;m="bar2foo1foo_bar3";
///   print(hashlib.md5(("sec"+m+"sec").encode()).hexdigest().upper());
///   print(hmac.new(b"sec",m.encode(),hashlib.md5).hexdigest().upper());
///   print(hmac.new(b"sec",m.encode(),hashlib.sha256).hexdigest().upper())'
#[test]
fn top_signs_match_python_vectors() {
    let p = params(&[
        ("foo", "1"),
        ("bar", "2"),
        ("foo_bar", "3"),
        ("empty", ""),
        ("sign", "IGNORED"),
    ]);
    let s = secret("sec");
    assert_eq!(
        top_sign(&p, &s, TopSignMethod::Md5),
        "BE166360AED9FEB9BB24E111FA3955D4"
    );
    assert_eq!(
        top_sign(&p, &s, TopSignMethod::Hmac),
        "5321834119D35681BD15636CFDCFB50B"
    );
    assert_eq!(
        top_sign(&p, &s, TopSignMethod::HmacSha256),
        "E26516DE151041C4F5FBB8935C146A5B10804EDF2E76DE1137224CD12B114F7F"
    );
}

#[test]
fn sign_method_parses_the_three_names_only() {
    assert_eq!("md5".parse::<TopSignMethod>(), Ok(TopSignMethod::Md5));
    assert_eq!("hmac".parse::<TopSignMethod>(), Ok(TopSignMethod::Hmac));
    assert_eq!(
        "hmac-sha256".parse::<TopSignMethod>(),
        Ok(TopSignMethod::HmacSha256)
    );
    assert!("HMAC".parse::<TopSignMethod>().is_err());
    assert_eq!(TopSignMethod::default(), TopSignMethod::Md5);
}

#[test]
fn pdd_sign_matches_an_independent_digest() {
    let business = params(&[
        ("start_updated_at", "1709251200"),
        ("end_updated_at", "1709253000"),
        ("page", "2"),
        ("page_size", "100"),
        ("is_lucky_flag", "0"),
        ("order_status", "5"),
    ]);
    let p = pdd_signed(
        "pdd.order.number.list.increment.get",
        &keys("cid42", "tok-1", "csecret").signing(),
        &business,
        instant(),
    );
    assert_eq!(p["timestamp"], "1709253000");
    assert_eq!(p["data_type"], "JSON");
    let joined = "access_tokentok-1client_idcid42data_typeJSONend_updated_at1709253000\
                  is_lucky_flag0order_status5page2page_size100start_updated_at1709251200\
                  timestamp1709253000typepdd.order.number.list.increment.get";
    let expected = upper_hex(&Md5::digest(format!("csecret{joined}csecret").as_bytes()));
    assert_eq!(p["sign"], expected);
}

/// `sign` is left out of the signed string:
/// python3 -c 'import hashlib;print(hashlib.md5(b"csa1b2cs").hexdigest().upper())'
#[test]
fn pdd_sign_matches_a_python_vector() {
    let p = params(&[("b", "2"), ("a", "1"), ("sign", "X")]);
    assert_eq!(
        pdd_sign(&p, &secret("cs")),
        "BB8C1C0ADE149BC3355FFA08A7774707"
    );
}

#[test]
fn douyin_param_json_sorts_keys_at_every_depth_and_is_compact() {
    let business = json!({
        "size": 100,
        "page": 0,
        "order_by": "update_time",
        "filter": {"z": [ {"b": 1, "a": "两"} ], "a": true},
        "create_time_start": 1709251200
    });
    assert_eq!(
        douyin_param_json(&business),
        r#"{"create_time_start":1709251200,"filter":{"a":true,"z":[{"a":"两","b":1}]},"order_by":"update_time","page":0,"size":100}"#
    );
    assert_eq!(douyin_param_json(&serde_json::Value::Null), "{}");
    assert_eq!(douyin_param_json(&json!({"u": "<&>"})), r#"{"u":"<&>"}"#);
}

#[test]
fn douyin_sign_matches_an_independent_digest() {
    let business = json!({"size": 100, "page": 0, "update_time_start": 1709251200});
    let p = douyin_signed(
        "order.searchList",
        &keys("7001", "dy-token", "dysecret").signing(),
        &business,
        instant(),
    );
    let param_json = r#"{"page":0,"size":100,"update_time_start":1709251200}"#;
    assert_eq!(p["param_json"], param_json);
    assert_eq!(p["timestamp"], "1709253000");
    assert_eq!(p["v"], "2");
    assert_eq!(p["sign_method"], "hmac-sha256");
    assert_eq!(p["access_token"], "dy-token");
    let text = format!(
        "dysecretapp_key7001methodorder.searchListparam_json{param_json}timestamp1709253000v2dysecret"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(b"dysecret").unwrap();
    mac.update(text.as_bytes());
    assert_eq!(p["sign"], lower_hex(&mac.finalize().into_bytes()));
}

#[test]
fn jd_sign_matches_an_independent_digest() {
    let business = json!({"start_date": "2024-03-01 00:00:00", "page": "1", "page_size": "100"});
    let p = jd_signed(
        "jingdong.pop.order.search",
        &keys("jdkey", "jd-token", "jdsecret").signing(),
        &business,
        instant(),
    );
    let pj = r#"{"page":"1","page_size":"100","start_date":"2024-03-01 00:00:00"}"#;
    assert_eq!(p["360buy_param_json"], pj);
    assert_eq!(p["timestamp"], "2024-03-01 08:30:00");
    assert_eq!(p["v"], "2.0");
    let joined = format!(
        "360buy_param_json{pj}access_tokenjd-tokenapp_keyjdkeymethodjingdong.pop.order.searchtimestamp2024-03-01 08:30:00v2.0"
    );
    let expected = upper_hex(&Md5::digest(format!("jdsecret{joined}jdsecret").as_bytes()));
    assert_eq!(p["sign"], expected);
}

#[test]
fn a_changed_parameter_changes_every_signature() {
    let s = secret("x");
    let a = params(&[("a", "1")]);
    let b = params(&[("a", "2")]);
    for m in [
        TopSignMethod::Md5,
        TopSignMethod::Hmac,
        TopSignMethod::HmacSha256,
    ] {
        assert_ne!(top_sign(&a, &s, m), top_sign(&b, &s, m));
    }
    assert_ne!(pdd_sign(&a, &s), pdd_sign(&b, &s));
    assert_ne!(jd_sign(&a, &s), jd_sign(&b, &s));
}

#[test]
fn every_name_is_a_block_with_the_platforms_key_names() {
    for n in Signing::NAMES {
        assert!(Signing::from_name(n).is_some(), "{n}");
    }
    assert_eq!(Signing::from_name("md5"), None);
    assert_eq!(
        Signing::from_name("top_hmac"),
        Some(Signing::Top(TopSignMethod::Hmac))
    );
    assert_eq!(Signing::Top(TopSignMethod::Md5).key_names()[2], "session");
    assert_eq!(Signing::Pdd.key_names()[0], "client_id");
    assert!(Signing::Jd.json_business() && !Signing::Pdd.json_business());
}

/// The block's form is what the platform's signer gives for the same
/// call (numbers sent as their text).
#[test]
fn a_pdd_post_carries_the_signed_form() {
    let app = keys("cid42", "tok-1", "csecret");
    let business = json!({"page": 2, "page_size": "100"});
    let req = Signing::Pdd
        .post(
            &reqwest::Client::new(),
            "http://router.invalid/api/router",
            "pdd.order.list.get",
            &app.signing(),
            &business,
            instant(),
        )
        .build()
        .unwrap();
    let body = String::from_utf8(req.body().unwrap().as_bytes().unwrap().to_vec()).unwrap();
    let want = pdd_signed(
        "pdd.order.list.get",
        &app.signing(),
        &params(&[("page", "2"), ("page_size", "100")]),
        instant(),
    );
    let sent: Params = reqwest::Url::parse(&format!("http://x.invalid/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(sent, want);
}

#[test]
fn sign_method_names_the_value_it_refuses() {
    assert_eq!("hmac-sha256".parse(), Ok(TopSignMethod::HmacSha256));
    let refused = "sha1".parse::<TopSignMethod>().unwrap_err();
    assert_eq!(refused, UnknownSignMethod("sha1".into()));
    assert_eq!(
        refused.to_string(),
        "`sha1` is not a TOP sign_method (md5, hmac or hmac-sha256)"
    );
}
