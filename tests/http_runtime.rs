//! The connector runtime's primitives against a loopback mock: throttling
//! that arrives inside HTTP 200 bodies (TOP code 7 with a named ban), platform
//! refusals that fail at once, Meta's HTTP 400 throttling, the OAuth2
//! refresh-token flow, and query-key auth kept out of error text.

use chrono::Utc;
use hmac::{Hmac, Mac};
use kpid::connectors::declarative::blocks::envelope;
use kpid::connectors::declarative::blocks::signing::{
    top_signed, Params, SigningKeys, TopSignMethod,
};
use kpid::http::oauth::RefreshTokenSource;
use kpid::http::{platform_errors, query_key, HttpClient, HttpError, RetryPolicy};
use md5::{Digest, Md5};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_total: Duration::from_secs(20),
    }
}

fn client() -> HttpClient {
    HttpClient::new("test", 0.0, policy()).unwrap()
}

/// The query parameters of a request, sorted.
fn query(req: &Request) -> Params {
    req.url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The TOP `md5` sign as the platform computes it, written here
/// independently of kpid's signer.
fn top_md5(params: &Params, secret: &str) -> String {
    let mut s = String::from(secret);
    for (k, v) in params {
        if k != "sign" && !v.is_empty() {
            s.push_str(k);
            s.push_str(v);
        }
    }
    s.push_str(secret);
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Serves TOP code 7 with a one-second ban first, then a page; refuses a
/// wrong signature with code 25 as TOP does.
struct TopMock {
    calls: Arc<Mutex<Vec<Instant>>>,
}

impl Respond for TopMock {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q = query(req);
        if q.get("sign").map(String::as_str) != Some(top_md5(&q, "top-secret").as_str()) {
            return ResponseTemplate::new(200).set_body_json(json!({
                "error_response": {"code": 25, "msg": "Invalid signature", "request_id": "r1"}
            }));
        }
        let mut calls = self.calls.lock().unwrap();
        calls.push(Instant::now());
        if calls.len() == 1 {
            ResponseTemplate::new(200).set_body_json(json!({
                "error_response": {
                    "code": 7,
                    "msg": "App Call Limited",
                    "sub_code": "accesscontrol.limited-by-app-access-count",
                    "sub_msg": "This ban will last for 1 more seconds",
                    "request_id": "r2"
                }
            }))
        } else {
            ResponseTemplate::new(200).set_body_json(json!({
                "trades_sold_increment_get_response": {"total_results": 1, "trades": {"trade": [{"tid": 4011427209837151234u64}]}}
            }))
        }
    }
}

fn top_params(secret: &str) -> Params {
    let mut business = Params::new();
    business.insert("page_no".into(), "1".into());
    business.insert("page_size".into(), "100".into());
    top_signed(
        "taobao.trades.sold.increment.get",
        &SigningKeys {
            app: "app-1",
            token: Some(&SecretString::from("session-1")),
            secret: &SecretString::from(secret.to_string()),
        },
        TopSignMethod::Md5,
        &business,
        Utc::now(),
    )
}

#[tokio::test]
async fn top_code_7_in_a_200_body_is_retried_after_the_named_wait() {
    let server = MockServer::start().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("GET"))
        .and(path("/router/rest"))
        .respond_with(TopMock {
            calls: calls.clone(),
        })
        .mount(&server)
        .await;
    let url = format!("{}/router/rest", server.uri());
    let params = top_params("top-secret");
    let page = client()
        .get_json_checked::<Value, _, _>(
            |c| c.get(&url).query(&params),
            "check the connector's app_key",
            envelope::top,
        )
        .await
        .unwrap();
    assert_eq!(
        page.body
            .pointer("/trades_sold_increment_get_response/total_results")
            .and_then(Value::as_u64),
        Some(1)
    );
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 2, "one throttled call, one that succeeded");
    let waited = calls[1] - calls[0];
    assert!(
        waited >= Duration::from_millis(990),
        "waited {waited:?}, the ban named 1 second"
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
}

#[tokio::test]
async fn top_wrong_signature_fails_at_once_naming_app_secret() {
    let server = MockServer::start().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("GET"))
        .and(path("/router/rest"))
        .respond_with(TopMock {
            calls: calls.clone(),
        })
        .mount(&server)
        .await;
    let url = format!("{}/router/rest", server.uri());
    let params = top_params("not-the-secret");
    let err = client()
        .get_json_checked::<Value, _, _>(|c| c.get(&url).query(&params), "unused", envelope::top)
        .await
        .err()
        .expect("a wrong signature must fail");
    assert!(!err.retryable());
    assert!(matches!(err, HttpError::Rejected { status: 200, .. }));
    let text = err.to_string();
    assert!(text.contains("app_secret"), "{text}");
    assert!(text.contains("Invalid signature"), "{text}");
    // No query (session, sign) in the error text.
    assert!(!text.contains("session-1"), "{text}");
    assert!(text.contains("/router/rest"), "{text}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_ban_longer_than_the_retry_budget_fails_without_waiting() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "error_response": {
                "code": 7,
                "msg": "App Call Limited",
                "sub_code": "accesscontrol.limited-by-api-access-count",
                "sub_msg": "This ban will last for 71915 more seconds"
            }
        })))
        .mount(&server)
        .await;
    let started = Instant::now();
    let err = client()
        .get_json_checked::<Value, _, _>(|c| c.get(server.uri()), "unused", envelope::top)
        .await
        .err()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(71915)));
    assert!(err.to_string().contains("retry after 71915.0s"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// Answers with `first` `n` times, then with `then`.
struct Sequence {
    n: usize,
    first: ResponseTemplate,
    then: ResponseTemplate,
    seen: AtomicUsize,
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.seen.fetch_add(1, Ordering::SeqCst) < self.n {
            self.first.clone()
        } else {
            self.then.clone()
        }
    }
}

#[tokio::test]
async fn meta_throttling_with_http_400_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(Sequence {
            n: 2,
            first: ResponseTemplate::new(400).set_body_json(json!({
                "error": {"message": "(#17) User request limit reached", "type": "OAuthException", "code": 17, "error_subcode": 2446079, "fbtrace_id": "A"}
            })),
            then: ResponseTemplate::new(200).set_body_json(json!({"data": [{"spend": "1.23"}], "paging": {}})),
            seen: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    let page = client()
        .get_json_checked::<Value, _, _>(|c| c.get(server.uri()), "unused", platform_errors::meta)
        .await
        .unwrap();
    assert_eq!(page.body["data"][0]["spend"], "1.23");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_douyin_error_in_a_200_body_is_not_parsed_as_data() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(Sequence {
            n: 1,
            first: ResponseTemplate::new(200).set_body_json(json!({
                "code": 60000, "msg": "触发限流，请稍后重试", "sub_code": "", "sub_msg": "", "data": null
            })),
            then: ResponseTemplate::new(200).set_body_json(json!({
                "code": 10000, "msg": "success", "data": {"shop_order_list": [], "total": 0}
            })),
            seen: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    let page = client()
        .get_json_checked::<Value, _, _>(|c| c.get(server.uri()), "unused", envelope::douyin)
        .await
        .unwrap();
    assert_eq!(page.body["code"], 10000);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

const CLIENT_SECRET: &str = "GOCSPX-client/secret+1";
const REFRESH_TOKEN: &str = "1//0refresh-token&=x";

/// A token endpoint that hands out `token-1`, `token-2`, … and records the
/// form bodies it received.
struct TokenEndpoint {
    n: AtomicUsize,
}

impl Respond for TokenEndpoint {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.n.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("token-{n}"),
            "expires_in": 3599,
            "scope": "https://www.googleapis.com/auth/adwords",
            "token_type": "Bearer"
        }))
    }
}

#[tokio::test]
async fn refresh_token_flow_posts_the_form_caches_and_renews() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(TokenEndpoint {
            n: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    let http = client();
    let source = RefreshTokenSource::new(
        format!("{}/token", server.uri()),
        "cid.apps.googleusercontent.com",
        SecretString::from(CLIENT_SECRET),
        SecretString::from(REFRESH_TOKEN),
    );
    for _ in 0..3 {
        assert_eq!(
            source.token(&http).await.unwrap().expose_secret(),
            "token-1"
        );
    }
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "the token is cached");
    let req = &requests[0];
    assert_eq!(
        req.headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    // The exact form body, percent-encoded by hand.
    assert_eq!(
        String::from_utf8(req.body.clone()).unwrap(),
        "grant_type=refresh_token\
         &refresh_token=1%2F%2F0refresh-token%26%3Dx\
         &client_id=cid.apps.googleusercontent.com\
         &client_secret=GOCSPX-client%2Fsecret%2B1"
    );

    // A token other than the cached one was refused: nothing changes.
    source.invalidate(&SecretString::from("token-0")).await;
    assert_eq!(
        source.token(&http).await.unwrap().expose_secret(),
        "token-1"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // The API answered 401 for token-1: the next call fetches token-2, once.
    source.invalidate(&SecretString::from("token-1")).await;
    assert_eq!(
        source.token(&http).await.unwrap().expose_secret(),
        "token-2"
    );
    assert_eq!(
        source.token(&http).await.unwrap().expose_secret(),
        "token-2"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

    let debug = format!("{source:?}");
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, "token-1", "token-2"] {
        assert!(!debug.contains(secret), "{debug}");
    }
}

#[tokio::test]
async fn a_short_lived_token_is_renewed_before_it_expires() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "short", "expires_in": 0
        })))
        .mount(&server)
        .await;
    let http = client();
    let source = RefreshTokenSource::new(
        server.uri(),
        "cid",
        SecretString::from(CLIENT_SECRET),
        SecretString::from(REFRESH_TOKEN),
    );
    source.token(&http).await.unwrap();
    source.token(&http).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn invalid_grant_fails_at_once_naming_refresh_token_without_secrets() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "Token has been expired or revoked."
        })))
        .mount(&server)
        .await;
    let http = client();
    let source = RefreshTokenSource::new(
        format!("{}/token", server.uri()),
        "cid",
        SecretString::from(CLIENT_SECRET),
        SecretString::from(REFRESH_TOKEN),
    );
    let err = source.token(&http).await.err().unwrap();
    assert!(!err.retryable());
    assert!(matches!(err, HttpError::Rejected { status: 400, .. }));
    let text = err.to_string();
    let debug = format!("{err:?}");
    assert!(text.contains("refresh_token"), "{text}");
    assert!(text.contains("invalid_grant"), "{text}");
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, "1%2F%2F0refresh", "GOCSPX"] {
        assert!(!text.contains(secret), "{text}");
        assert!(!debug.contains(secret), "{debug}");
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_query_key_never_reaches_error_text() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_string("API key not valid"))
        .mount(&server)
        .await;
    let key = SecretString::from("AIzaSyQUERYKEY-123");
    let url = format!("{}/v1/things", server.uri());
    let err = client()
        .get_json::<Value, _>(|c| query_key(c.get(&url), "key", &key), "check api_key")
        .await
        .err()
        .unwrap();
    let req = &server.received_requests().await.unwrap()[0];
    assert_eq!(req.url.query(), Some("key=AIzaSyQUERYKEY-123"));
    let text = err.to_string();
    assert!(text.contains("/v1/things"), "{text}");
    assert!(!text.contains("AIzaSyQUERYKEY-123"), "{text}");
    assert!(!format!("{err:?}").contains("AIzaSyQUERYKEY-123"));
}

/// The HMAC-SHA256 TOP sign checked by a mock the same way (independent
/// implementation), to show a signed request passes the platform's check.
#[tokio::test]
async fn top_hmac_sha256_request_passes_an_independent_check() {
    struct Check;
    impl Respond for Check {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let q = query(req);
            let mut joined = String::new();
            for (k, v) in &q {
                if k != "sign" && !v.is_empty() {
                    joined.push_str(k);
                    joined.push_str(v);
                }
            }
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"top-secret").unwrap();
            mac.update(joined.as_bytes());
            let expected: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            if q.get("sign") == Some(&expected) && q["sign_method"] == "hmac-sha256" {
                ResponseTemplate::new(200)
                    .set_body_json(json!({"time_get_response": {"time": "2024-03-01 08:30:00"}}))
            } else {
                ResponseTemplate::new(200).set_body_json(
                    json!({"error_response": {"code": 25, "msg": "Invalid signature"}}),
                )
            }
        }
    }
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(Check)
        .mount(&server)
        .await;
    let params = top_signed(
        "taobao.time.get",
        &SigningKeys {
            app: "app-1",
            token: None,
            secret: &SecretString::from("top-secret"),
        },
        TopSignMethod::HmacSha256,
        &Params::new(),
        Utc::now(),
    );
    let page = client()
        .get_json_checked::<Value, _, _>(
            |c| c.get(server.uri()).query(&params),
            "unused",
            envelope::top,
        )
        .await
        .unwrap();
    assert!(page.body.get("time_get_response").is_some());
}

/// One attempt, so a transport failure is reported at once.
fn one_attempt(read_timeout: Duration) -> HttpClient {
    let policy = RetryPolicy {
        max_attempts: 1,
        ..policy()
    };
    let timeouts = kpid::http::Timeouts {
        connect: Duration::from_secs(5),
        read: read_timeout,
    };
    HttpClient::with_timeouts("test", 0.0, policy, timeouts).unwrap()
}

async fn transport_error(client: &HttpClient, url: &str) -> String {
    let started = Instant::now();
    let err = client
        .get_json::<Value, _>(|c| c.get(url), "hint")
        .await
        .err()
        .expect("the request fails");
    assert!(matches!(err, HttpError::Transport { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "reported at once: {err}"
    );
    err.to_string()
}

#[tokio::test]
async fn a_closed_port_is_named_with_its_url_and_connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url =
        format!("http://kpid:PassWord9@127.0.0.1:{port}/admin/orders.json?access_token=SECRET42");
    let text = transport_error(&one_attempt(Duration::from_secs(5)), &url).await;
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/admin/orders.json")),
        "{text}"
    );
    assert!(text.contains("connection refused"), "{text}");
    for secret in ["SECRET42", "PassWord9", "access_token"] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test]
async fn an_unresolvable_host_is_a_dns_failure_naming_the_host() {
    let text = transport_error(
        &one_attempt(Duration::from_secs(5)),
        "http://no-such-shop.invalid/orders",
    )
    .await;
    assert!(
        text.contains("http://no-such-shop.invalid/orders"),
        "{text}"
    );
    assert!(text.contains("DNS"), "{text}");
    assert!(text.contains("`no-such-shop.invalid`"), "{text}");
}

#[tokio::test]
async fn tls_to_a_plain_http_server_is_a_tls_failure() {
    let server = MockServer::start().await;
    let url = format!("{}/orders", server.uri().replace("http://", "https://"));
    let text = transport_error(&one_attempt(Duration::from_secs(5)), &url).await;
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("TLS"), "{text}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_naming_the_limit() {
    // Accepts connections and reads requests, but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let url = format!("http://{addr}/orders");
    let text = transport_error(&one_attempt(Duration::from_millis(300)), &url).await;
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("0.3 s"), "the limit: {text}");
    assert!(
        text.contains("timed out") || text.contains("no response"),
        "{text}"
    );
}
