use super::*;
use chrono::TimeZone;

fn mapper(api: Api) -> Mapper {
    Mapper {
        api,
        page: PageOf::test("test"),
    }
}

fn naive(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, TIME_FORMAT).unwrap()
}

#[test]
fn windows_are_cut_at_gmt8_midnights_and_never_exceed_a_day() {
    // 2024-03-01 06:30 GMT+8 .. 2024-03-03 10:00 GMT+8.
    let start = Utc.with_ymd_and_hms(2024, 2, 29, 22, 30, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2024, 3, 3, 2, 0, 0).unwrap();
    let pieces = platform_days(start, end);
    assert_eq!(
        pieces,
        vec![
            (naive("2024-03-01 06:30:00"), naive("2024-03-01 23:59:59")),
            (naive("2024-03-02 00:00:00"), naive("2024-03-02 23:59:59")),
            (naive("2024-03-03 00:00:00"), naive("2024-03-03 10:00:00")),
        ]
    );
    for (a, b) in pieces {
        assert!(b - a < Duration::days(1));
    }
    assert!(platform_days(end, start).is_empty());
}

#[test]
fn times_without_offset_are_gmt8() {
    assert_eq!(
        parse_time("created", "2024-03-01 07:59:59").unwrap(),
        Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap()
    );
    let e = parse_time("created", "2024-03-01T07:59:59+08:00").unwrap_err();
    assert_eq!(e.field(), "created");
}

#[test]
fn tids_beyond_2_pow_53_keep_every_digit() {
    let body = br#"{"trades_sold_get_response":{"total_results":2,"has_next":false,"trades":{"trade":[
        {"tid":3876543210123456781,"status":"TRADE_FINISHED","payment":"1.00","pay_time":"2024-03-01 10:00:00"},
        {"tid":3876543210123456789,"status":"TRADE_FINISHED","payment":"2.00","pay_time":"2024-03-01 10:00:00"}]}}}"#;
    // Through f64 the two would be one number.
    assert_eq!(3876543210123456781u64 as f64, 3876543210123456789u64 as f64);
    let page = mapper(Api::Sold).page(body).unwrap();
    let ids: Vec<_> = page
        .batch
        .orders
        .iter()
        .map(|o| o.order_id.as_str())
        .collect();
    assert_eq!(ids, ["3876543210123456781", "3876543210123456789"]);
    assert_eq!(page.has_next, Some(false));
}

#[test]
fn statuses_map_to_paid_unpaid_and_closed() {
    assert_eq!(
        trade_status("WAIT_BUYER_PAY", false),
        Some(OrderStatus::Unpaid)
    );
    assert_eq!(
        trade_status("TRADE_CLOSED_BY_TAOBAO", false),
        Some(OrderStatus::Unpaid)
    );
    assert_eq!(
        trade_status("TRADE_FINISHED", true),
        Some(OrderStatus::Paid)
    );
    assert_eq!(trade_status("TRADE_CLOSED", true), Some(OrderStatus::Paid));
    assert_eq!(
        trade_status("TRADE_CLOSED", false),
        Some(OrderStatus::Closed)
    );
    assert_eq!(trade_status("SOMETHING_NEW", true), None);
}

#[test]
fn an_empty_answer_has_no_list() {
    let page = mapper(Api::Increment)
        .page(br#"{"trades_sold_increment_get_response":{"total_results":0,"request_id":"x"}}"#)
        .unwrap();
    assert_eq!(page.total, Some(0));
    assert_eq!(page.listed, 0);
    assert!(mapper(Api::Increment)
        .page(br#"{"trades_sold_get_response":{}}"#)
        .is_err());
}
