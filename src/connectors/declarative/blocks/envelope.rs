//! Error envelopes inside response bodies, as named blocks a definition
//! picks with `[errors] envelope = "top" | "pdd" | "jd" | "douyin" |
//! "meta_graph" | "google"`; the Rust connectors of those platforms use the
//! same classifiers. Meta throttles with HTTP 400 and a code, and names its
//! waits in a header (`header_wait`). The Chinese
//! platforms answer HTTP 200 whatever happened and say in the body whether
//! the call was throttled (retried like a 429, after the wait the platform
//! names), refused (fails at once with a hint naming the credential) or
//! broken for a moment (retried).
//!
//! Sources: TOP "错误码一览" (codes 7, 10, 11–13, 15, 21–34, 40–47 and the
//! `isp.`/`isv.`/`accesscontrol.` sub codes); Pinduoduo "错误码" (10019
//! access_token expired, 70031 call frequency limit, 5xxxx service errors);
//! 抖店 "公共错误码" (10000 success, 20000/20001 service, 30001 permission,
//! 40001/40003 with `isv.signature-*`, `isv.access-token-*`,
//! `isv.app-id-*`, `isv.timestamp-*` sub codes, 60000 rate limit); JD JOS
//! "网关系统错误码" (2 App Call Limited, 11/12 signature, 18/19
//! access_token, 20/21 app_key, 24 permission).

use crate::http::platform_errors::{self, number, rejected, server, text, texts, throttled};
use crate::http::HttpError;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::Duration;

/// A body larger than this is not an error envelope for the platforms whose
/// envelopes open the object (TOP, PDD): only its first bytes are looked at.
const SMALL_BODY: usize = 16 * 1024;

/// A platform's error envelope, by the name a definition gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// Taobao/Tmall TOP `error_response` (`code`, `sub_code`, ban seconds).
    Top,
    /// Pinduoduo `error_response` (`error_code`, `error_msg`).
    Pdd,
    /// JD JOS `error_response` and `apiResult.success = false`.
    Jd,
    /// 抖店 `code` (10000 = success) or `err_no`.
    Douyin,
    /// Meta Graph: `{"error":{"code":17,…}}` (4, 17, 32, 613, 80000–80014
    /// throttled; 190 the token; 10, 200–299 permissions), waiting as long
    /// as `X-Business-Use-Case-Usage` says.
    MetaGraph,
    /// Google APIs: `RESOURCE_EXHAUSTED` with its `retryDelay`, passing
    /// faults retried; other errors keep the status-based handling.
    Google,
}

impl Envelope {
    pub const NAMES: &'static [&'static str] =
        &["top", "pdd", "jd", "douyin", "meta_graph", "google"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "top" => Some(Envelope::Top),
            "pdd" => Some(Envelope::Pdd),
            "jd" => Some(Envelope::Jd),
            "douyin" => Some(Envelope::Douyin),
            "meta_graph" => Some(Envelope::MetaGraph),
            "google" => Some(Envelope::Google),
            _ => None,
        }
    }

    /// The error a body carries, if any (see the module's doc).
    pub fn classify(self, body: &[u8]) -> Option<HttpError> {
        match self {
            Envelope::Top => top(body),
            Envelope::Pdd => pdd(body),
            Envelope::Jd => jd(body),
            Envelope::Douyin => douyin(body),
            Envelope::MetaGraph => platform_errors::meta(body),
            Envelope::Google => platform_errors::google(body),
        }
    }

    /// Reads the wait a platform names in its response headers.
    pub fn header_wait(self) -> Option<fn(&HeaderMap) -> Option<Duration>> {
        match self {
            Envelope::MetaGraph => Some(business_usage_wait),
            _ => None,
        }
    }
}

/// The wait Meta names in `X-Business-Use-Case-Usage`
/// (`{"<business id>":[{"type":"ads_insights",…,"estimated_time_to_regain_access":N}]}`,
/// N in minutes): the longest over the use cases, if any is above zero.
fn business_usage_wait(headers: &HeaderMap) -> Option<Duration> {
    let v: Value =
        serde_json::from_slice(headers.get("x-business-use-case-usage")?.as_bytes()).ok()?;
    let minutes = v
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|u| u.get("estimated_time_to_regain_access")?.as_u64())
        .max()?;
    (minutes > 0).then(|| Duration::from_secs(minutes * 60))
}

/// Whether the body's first key is `key` (`{"error_response":…`), looking
/// only at its first bytes.
fn opens_with_key(body: &[u8], key: &str) -> bool {
    let mut rest = body.trim_ascii_start();
    let Some(after) = rest.strip_prefix(b"{") else {
        return false;
    };
    rest = after.trim_ascii_start();
    let quoted = format!("\"{key}\"");
    rest.starts_with(quoted.as_bytes())
}

/// The `error_response` object of a TOP/PDD/JD body, if there is one.
fn error_response(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    if !opens_with_key(body, "error_response") && body.len() > SMALL_BODY {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    match v.get("error_response")? {
        Value::Object(m) => Some(m.clone()),
        _ => None,
    }
}

/// The seconds in "This ban will last for 71 more seconds" (TOP).
pub fn ban_seconds(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find("last for")? + "last for".len();
    let digits: String = lower[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse::<u64>().ok().map(Duration::from_secs)
}

/// Taobao/Tmall TOP: `{"error_response":{"code":7,"msg":"App Call Limited",
/// "sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This
/// ban will last for 1 more seconds"}}`.
pub fn top(body: &[u8]) -> Option<HttpError> {
    let e = error_response(body)?;
    let code = number(&e, "code");
    let msg = text(&e, "msg");
    let sub_code = text(&e, "sub_code");
    let sub_msg = text(&e, "sub_msg");
    if code == Some(7) || sub_code.starts_with("accesscontrol.") {
        return Some(throttled(
            ban_seconds(&sub_msg).or_else(|| ban_seconds(&msg)),
        ));
    }
    if code == Some(10) || code == Some(520) || sub_code.starts_with("isp.") {
        return Some(server(body));
    }
    let hint = match code {
        Some(24) | Some(25) => "TOP refused the signature: check the connector's app_secret (the App Secret of this app_key) and sign_method (md5, hmac or hmac-sha256)".to_string(),
        Some(26) | Some(27) => "TOP refused the session: it is missing, invalid or expired; have the shop authorize the app again and set the new session".to_string(),
        Some(28) | Some(29) => "TOP does not know this app: check the connector's app_key".to_string(),
        Some(11) => "the app lacks permission for this API: apply for it in the TOP console for this app_key".to_string(),
        Some(12) | Some(13) => "the shop's authorization does not cover this API: check the session belongs to the shop (main account) and re-authorize the app".to_string(),
        Some(30) | Some(31) => "TOP refused the timestamp: check this machine's clock (TOP allows 10 minutes of drift from GMT+8)".to_string(),
        _ if sub_code.contains("session") => "TOP refused the session: have the shop authorize the app again and set the new session".to_string(),
        _ => format!(
            "TOP refused the call (code {}, {msg}{}): check the connector's options",
            code.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
            if sub_code.is_empty() { String::new() } else { format!(", {sub_code}: {sub_msg}") }
        ),
    };
    Some(rejected(body, hint))
}

fn mentions_rate_limit(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    ["频繁", "频率", "限流", "frequen", "rate limit", "too many"]
        .iter()
        .any(|w| l.contains(w))
}

/// Pinduoduo: `{"error_response":{"error_code":70031,"error_msg":"调用过于
/// 频繁，请调整调用频率","sub_code":…,"sub_msg":…}}`.
pub fn pdd(body: &[u8]) -> Option<HttpError> {
    let e = error_response(body)?;
    let code = number(&e, "error_code");
    let all = texts(&e, &["error_msg", "sub_code", "sub_msg"]);
    let lower = all.to_ascii_lowercase();
    if code == Some(70031) || mentions_rate_limit(&all) {
        return Some(throttled(None));
    }
    if code == Some(10019) || lower.contains("access_token") {
        return Some(rejected(
            body,
            "Pinduoduo refused the access_token (expired, revoked or for another shop): have the shop authorize the app again and set the new access_token",
        ));
    }
    if all.contains("签名") || lower.contains("sign") {
        return Some(rejected(
            body,
            "Pinduoduo refused the signature: check the connector's client_secret (the secret of this client_id)",
        ));
    }
    if lower.contains("client_id") {
        return Some(rejected(
            body,
            "Pinduoduo does not know this app: check the connector's client_id",
        ));
    }
    if code.is_some_and(|c| (50000..60000).contains(&c))
        || all.contains("系统")
        || all.contains("超时")
        || lower.contains("timeout")
    {
        return Some(server(body));
    }
    Some(rejected(
        body,
        "Pinduoduo refused the call: check the connector's options (the message says which)",
    ))
}

/// A wait a message names: "This ban will last for N more seconds", "N秒",
/// "N seconds".
fn named_wait(message: &str) -> Option<Duration> {
    if let Some(d) = ban_seconds(message) {
        return Some(d);
    }
    let lower = message.to_ascii_lowercase();
    let at = lower.find('秒').or_else(|| lower.find(" second"))?;
    let digits: String = lower[..at]
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse::<u64>().ok().map(Duration::from_secs)
}

/// JD 京东 JOS: gateway errors as `{"error_response":{"code":"19",
/// "zh_desc":"无效access_token","en_desc":"Invalid access_token"}}`
/// (codes from JOS "网关系统错误码": 2 App Call Limited; 7/8 timestamp;
/// 11/12 signature; 18/19 access_token; 20/21 app_key; 24 no permission
/// for the API; 1 and 65–67 the platform's back end unavailable or timing
/// out), and API errors inside the method's envelope as
/// `{"…_responce":{"…_result":{"apiResult":{"success":false,
/// "numberCode":…,"chineseErrCode":…}}}}`.
pub fn jd(body: &[u8]) -> Option<HttpError> {
    if let Some(e) = error_response(body) {
        let code = number(&e, "code");
        let all = texts(&e, &["zh_desc", "en_desc", "msg"]);
        if code == Some(2) || mentions_rate_limit(&all) || all.contains("超限") {
            return Some(throttled(named_wait(&all)));
        }
        if matches!(code, Some(1 | 65 | 66 | 67))
            || all.contains("超时")
            || all.to_ascii_lowercase().contains("timeout")
        {
            return Some(server(body));
        }
        let hint = match code {
            Some(11 | 12) => "JD refused the signature: check the connector's app_secret (the App Secret of this app_key)".to_string(),
            Some(18 | 19) => "JD refused the access_token (invalid or expired): have the shop authorize the app again and set the new access_token".to_string(),
            Some(20 | 21) => "JD does not know this app: check the connector's app_key (a production app, not a sandbox one)".to_string(),
            Some(24) => "the app may not call this API: apply for its permission for this app_key in the JOS console".to_string(),
            Some(7 | 8) => "JD refused the timestamp: check this machine's clock (JD allows 6 minutes of drift from GMT+8)".to_string(),
            _ => format!(
                "JD refused the call (code {}, {}): check the connector's options",
                code.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
                all.trim()
            ),
        };
        return Some(rejected(body, hint));
    }
    // API errors come without orders: a large body is a page.
    if body.len() > SMALL_BODY {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let envelope = v.as_object()?.values().next()?.as_object()?;
    let result = envelope
        .values()
        .find_map(|r| r.as_object()?.get("apiResult")?.as_object())?;
    let success = match result.get("success") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => return None,
    };
    if success {
        return None;
    }
    let all = texts(result, &["chineseErrCode", "englishErrCode"]);
    if mentions_rate_limit(&all) || all.contains("超限") {
        return Some(throttled(named_wait(&all)));
    }
    if all.contains("系统") || all.contains("超时") {
        return Some(server(body));
    }
    Some(rejected(
        body,
        format!(
            "JD refused the search (numberCode {}, {}): check the connector's options",
            text(result, "numberCode"),
            all.trim()
        ),
    ))
}

/// 抖店 (Douyin shop): `{"code":10000,"msg":"success",…}` is success, any
/// other `code` an error (older gateways: `err_no` 0 is success).
pub fn douyin(body: &[u8]) -> Option<HttpError> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(default)]
        code: Option<Value>,
        #[serde(default)]
        err_no: Option<Value>,
        #[serde(default)]
        msg: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        sub_code: Option<String>,
        #[serde(default)]
        sub_msg: Option<String>,
    }
    let env: Envelope = serde_json::from_slice(body).ok()?;
    let as_int = |v: &Option<Value>| match v {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let code = match (as_int(&env.code), as_int(&env.err_no)) {
        (Some(10000), _) => return None,
        (Some(c), _) => c,
        (None, Some(0)) => return None,
        (None, Some(c)) => c,
        (None, None) => return None,
    };
    let sub = env.sub_code.unwrap_or_default();
    let all = format!(
        "{} {} {}",
        env.msg.or(env.message).unwrap_or_default(),
        sub,
        env.sub_msg.unwrap_or_default()
    );
    if code == 60000 || all.contains("频率") || all.contains("限流") || all.contains("频繁") {
        return Some(throttled(None));
    }
    let hint = if sub.starts_with("isv.signature") || all.contains("签名") {
        "抖店 refused the signature: check the connector's app_secret (the secret of this app_key)"
    } else if sub.starts_with("isv.access-token")
        || sub.starts_with("dop.authorization")
        || all.contains("access_token")
        || all.contains("授权")
    {
        "抖店 refused the access_token (expired, revoked or not matching app_key): have the shop authorize the app again and set the new access_token"
    } else if sub.starts_with("isv.app-id") || sub == "dop.app-forbidden" {
        "抖店 does not accept this app: check the connector's app_key"
    } else if sub.starts_with("isv.timestamp") {
        "抖店 refused the timestamp: check this machine's clock"
    } else if sub == "isv.app-permissions-insufficient" || code == 30001 {
        "the app lacks permission for this API: apply for its permission package in the 抖店 console"
    } else if matches!(code, 10001 | 20000 | 20001) || sub.starts_with("isp.") {
        return Some(server(body));
    } else {
        "抖店 refused the call: check the connector's options (the message says which)"
    };
    Some(rejected(body, hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::http::platform_errors::rejected_hint as hint;

    #[test]
    fn every_name_is_a_block() {
        for n in Envelope::NAMES {
            assert!(Envelope::from_name(n).is_some(), "{n}");
        }
        assert_eq!(Envelope::from_name("TOP"), None);
        let throttled = br#"{"error_response":{"code":7,"msg":"App Call Limited"}}"#;
        assert!(matches!(
            Envelope::Top.classify(throttled),
            Some(HttpError::Throttled { .. })
        ));
    }

    #[test]
    fn top_code_7_is_throttled_for_the_named_seconds() {
        let body = br#"{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 1 more seconds","request_id":"abc"}}"#;
        let e = top(body).unwrap();
        assert!(e.retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
        let body = br#"{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-api-access-count","sub_msg":"This ban will last for 71915 more seconds"}}"#;
        assert_eq!(
            top(body).unwrap().retry_after(),
            Some(Duration::from_secs(71915))
        );
        // No named wait: throttled, the backoff decides.
        let body = br#"{"error_response":{"code":7,"msg":"App Call Limited"}}"#;
        let e = top(body).unwrap();
        assert!(matches!(
            e,
            HttpError::Throttled {
                retry_after: None,
                ..
            }
        ));
    }

    #[test]
    fn top_isp_unavailable_is_a_retryable_server_error() {
        let body = r#"{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.trade-service-unavailable","sub_msg":"服务不可用"}}"#.as_bytes();
        let e = top(body).unwrap();
        assert!(matches!(e, HttpError::Server { .. }));
        assert!(e.retryable());
        let body = br#"{"error_response":{"code":10,"msg":"Service Currently Unavailable"}}"#;
        assert!(matches!(top(body).unwrap(), HttpError::Server { .. }));
    }

    #[test]
    fn top_bad_signature_and_session_name_the_credential() {
        let e = top(br#"{"error_response":{"code":25,"msg":"Invalid signature"}}"#).unwrap();
        assert!(!e.retryable());
        assert!(hint(&e).contains("app_secret"));
        assert!(hint(&e).contains("sign_method"));
        for code in [26, 27] {
            let body = format!(
                r#"{{"error_response":{{"code":{code},"msg":"Invalid session","sub_code":"invalid-sessionkey"}}}}"#
            );
            let e = top(body.as_bytes()).unwrap();
            assert!(!e.retryable());
            assert!(hint(&e).contains("session"), "{code}");
        }
        let e = top(br#"{"error_response":{"code":29,"msg":"Invalid app Key"}}"#).unwrap();
        assert!(hint(&e).contains("app_key"));
        let e = top(br#"{"error_response":{"code":41,"msg":"Invalid arguments","sub_code":"isv.invalid-parameter","sub_msg":"page_size"}}"#).unwrap();
        assert!(!e.retryable());
        assert!(hint(&e).contains("isv.invalid-parameter"));
    }

    #[test]
    fn top_success_bodies_pass() {
        assert!(top(
            br#"{"trades_sold_increment_get_response":{"total_results":0,"trades":{"trade":[]}}}"#
        )
        .is_none());
        assert!(top(b"<html>502</html>").is_none());
        // A large success body mentioning error_response further in is not an error.
        let mut big = br#"{"trades_sold_get_response":{"x":""#.to_vec();
        big.extend(std::iter::repeat_n(b'a', SMALL_BODY + 10));
        big.extend(br#"","error_response":{"code":7}}}"#);
        assert!(top(&big).is_none());
    }

    #[test]
    fn ban_seconds_reads_the_number() {
        assert_eq!(
            ban_seconds("This ban will last for 12 more seconds"),
            Some(Duration::from_secs(12))
        );
        assert_eq!(ban_seconds("App Call Limited"), None);
    }

    #[test]
    fn pdd_rate_limit_is_throttled() {
        let e = pdd(r#"{"error_response":{"error_code":70031,"error_msg":"调用过于频繁，请调整调用频率","sub_code":null,"sub_msg":"","request_id":"1"}}"#.as_bytes()).unwrap();
        assert!(e.retryable());
        assert!(matches!(e, HttpError::Throttled { .. }));
        let e =
            pdd(r#"{"error_response":{"error_code":70099,"error_msg":"请求过于频繁"}}"#.as_bytes())
                .unwrap();
        assert!(matches!(e, HttpError::Throttled { .. }));
    }

    #[test]
    fn pdd_auth_errors_name_the_credential() {
        let e = pdd(
            r#"{"error_response":{"error_code":10019,"error_msg":"access_token已过期"}}"#
                .as_bytes(),
        )
        .unwrap();
        assert!(!e.retryable());
        assert!(hint(&e).contains("access_token"));
        let e = pdd(r#"{"error_response":{"error_code":10016,"error_msg":"签名错误","sub_msg":"sign invalid"}}"#.as_bytes()).unwrap();
        assert!(hint(&e).contains("client_secret"));
        let e = pdd(r#"{"error_response":{"error_code":50001,"error_msg":"业务服务错误","sub_msg":"系统异常"}}"#.as_bytes()).unwrap();
        assert!(matches!(e, HttpError::Server { .. }));
        assert!(pdd(
            br#"{"order_number_list_increment_get_response":{"total_count":0,"order_list":[]}}"#
        )
        .is_none());
    }

    #[test]
    fn jd_gateway_codes() {
        let e = jd(r#"{"error_response":{"code":"2","zh_desc":"限制时间内调用失败次数","en_desc":"App Call Limited"}}"#.as_bytes()).unwrap();
        assert!(matches!(
            e,
            HttpError::Throttled {
                retry_after: None,
                ..
            }
        ));
        let e = jd(r#"{"error_response":{"code":"85","zh_desc":"调用频率超限，请1秒后重试","en_desc":"call frequency limited"}}"#.as_bytes()).unwrap();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
        let e = jd(r#"{"error_response":{"code":"12","zh_desc":"无效签名","en_desc":"Invalid Signature"}}"#.as_bytes()).unwrap();
        assert!(!e.retryable());
        assert!(hint(&e).contains("app_secret"));
        let e = jd(r#"{"error_response":{"code":19,"zh_desc":"无效access_token","en_desc":"Invalid access_token"}}"#.as_bytes()).unwrap();
        assert!(hint(&e).contains("access_token"));
        let e = jd(r#"{"error_response":{"code":"21","zh_desc":"无效app_key","en_desc":"Invalid app_key"}}"#.as_bytes()).unwrap();
        assert!(hint(&e).contains("app_key"));
        let e = jd(r#"{"error_response":{"code":"24","zh_desc":"无权调用API","en_desc":"cannot use this API"}}"#.as_bytes()).unwrap();
        assert!(hint(&e).contains("permission"));
        let e = jd(r#"{"error_response":{"code":"67","zh_desc":"平台连接后端服务不可用","en_desc":"backend unavailable"}}"#.as_bytes()).unwrap();
        assert!(matches!(e, HttpError::Server { .. }));
    }

    #[test]
    fn jd_api_results() {
        let ok = br#"{"jingdong_pop_order_search_responce":{"code":"0","searchorderinfo_result":{"apiResult":{"success":true,"numberCode":0},"orderTotal":0,"orderInfoList":[]}}}"#;
        assert!(jd(ok).is_none());
        let bad = r#"{"jingdong_pop_order_search_responce":{"code":"0","searchorderinfo_result":{"apiResult":{"success":false,"numberCode":"10100021","chineseErrCode":"订单状态参数错误","englishErrCode":"invalid state"}}}}"#;
        let e = jd(bad.as_bytes()).unwrap();
        assert!(!e.retryable());
        assert!(hint(&e).contains("10100021"));
        let busy = r#"{"jingdong_pop_order_search_responce":{"searchorderinfo_result":{"apiResult":{"success":"false","chineseErrCode":"系统繁忙"}}}}"#;
        assert!(matches!(
            jd(busy.as_bytes()).unwrap(),
            HttpError::Server { .. }
        ));
        assert!(jd(b"<html>502</html>").is_none());
    }

    #[test]
    fn named_waits_in_messages() {
        for (message, seconds) in [
            ("请3秒后重试", Some(3)),
            ("retry in 2 seconds", Some(2)),
            ("This ban will last for 5 more seconds", Some(5)),
            ("调用频率超限", None),
        ] {
            assert_eq!(
                named_wait(message),
                seconds.map(Duration::from_secs),
                "{message}"
            );
        }
    }

    #[test]
    fn douyin_codes() {
        assert!(douyin(
            br#"{"code":10000,"msg":"success","sub_code":"","sub_msg":"","data":{"list":[]}}"#
        )
        .is_none());
        assert!(douyin(br#"{"err_no":0,"message":"success","data":{}}"#).is_none());
        let e = douyin(
            r#"{"code":60000,"msg":"触发限流，请稍后重试","sub_code":"","sub_msg":""}"#.as_bytes(),
        )
        .unwrap();
        assert!(matches!(e, HttpError::Throttled { .. }));
        let e = douyin(
            r#"{"code":50002,"msg":"业务处理失败","sub_code":"isp.xxx","sub_msg":"调用频率超限"}"#
                .as_bytes(),
        )
        .unwrap();
        assert!(matches!(e, HttpError::Throttled { .. }));
        let e = douyin(r#"{"code":40003,"msg":"非法的参数","sub_code":"isv.signature-invalid","sub_msg":"签名校验失败"}"#.as_bytes()).unwrap();
        assert!(!e.retryable());
        assert!(hint(&e).contains("app_secret"));
        let e = douyin(r#"{"code":40003,"msg":"非法的参数","sub_code":"isv.access-token-expired","sub_msg":"access_token已过期"}"#.as_bytes()).unwrap();
        assert!(hint(&e).contains("access_token"));
        let e = douyin(
            r#"{"code":20000,"msg":"服务不可用","sub_code":"dop.service-error"}"#.as_bytes(),
        )
        .unwrap();
        assert!(matches!(e, HttpError::Server { .. }));
        assert!(douyin(b"not json").is_none());
    }
}

#[cfg(test)]
mod meta_tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn usage_header_names_minutes() {
        let mut h = HeaderMap::new();
        assert_eq!(business_usage_wait(&h), None);
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(r#"{"1234":[{"type":"ads_insights","call_count":100,"total_cputime":40,"total_time":60,"estimated_time_to_regain_access":5},{"type":"ads_management","estimated_time_to_regain_access":0}]}"#),
        );
        assert_eq!(business_usage_wait(&h), Some(Duration::from_secs(300)));
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"1234":[{"type":"ads_insights","estimated_time_to_regain_access":0}]}"#,
            ),
        );
        assert_eq!(business_usage_wait(&h), None);
    }

    #[test]
    fn every_name_is_a_block() {
        for n in Envelope::NAMES {
            assert!(Envelope::from_name(n).is_some(), "{n}");
        }
        let throttled = br#"{"error":{"message":"(#17) User request limit reached","code":17}}"#;
        assert!(matches!(
            Envelope::MetaGraph.classify(throttled),
            Some(HttpError::Throttled { .. })
        ));
        assert!(Envelope::MetaGraph.classify(br#"{"data":[]}"#).is_none());
    }
}
