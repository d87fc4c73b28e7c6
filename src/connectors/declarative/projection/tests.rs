use super::*;
use crate::connectors::declarative::Definitions;
use serde_json::json;

fn projection(kind: &str) -> &'static Projection {
    &Definitions::builtin().get(kind).unwrap().streams[0].projection
}

#[test]
fn kept_values_are_exact_and_unexpected_shapes_survive() {
    let p = projection("shopify");
    // A 20-digit id and a decimal stay as written (`arbitrary_precision`),
    // also where a list was expected but a number came.
    let text = r#"{"orders":[{"id":12345678901234567890123,"total_price":0.10,
        "refunds":7,"customer":"c"}],"x":1e400}"#;
    let got = p.parse(text.as_bytes()).unwrap();
    let full: Value = serde_json::from_str(text).unwrap();
    assert_eq!(got["orders"][0], full["orders"][0]);
    assert_eq!(
        got["orders"][0]["id"].to_string(),
        "12345678901234567890123"
    );
    // Records that are not a list come through as they are.
    let odd = p.parse(br#"{"orders":{"id":1},"other":[]}"#).unwrap();
    assert_eq!(odd, json!({"orders": {}}));
    assert!(p.parse(br#"{"orders":[]} x"#).is_err());
    assert!(p.parse(br#"{"orders":["#).is_err());
}

/// A streamed record as the `Value` the pruned parse builds.
fn value(n: &Node) -> Value {
    match n {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Text(s) => Value::String(s.to_string()),
        Node::Number(n) => Value::Number(n.parse().unwrap()),
        Node::Unsigned(n) => Value::Number((*n).into()),
        Node::Signed(n) => Value::Number((*n).into()),
        Node::List(l) => Value::Array(l.iter().map(value).collect()),
        Node::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.to_string(), value(v))).collect())
        }
    }
}

#[test]
fn kept_values_read_as_in_the_parsed_page() {
    // Every kind of value at a pointer's end: escapes, numbers (beyond
    // u64, negative zero, an exponent, which the parser writes `e+3`), a
    // whole object.
    let p = projection("shopify");
    let records = tokens("/orders").unwrap();
    let text = r#"{"orders":[{"id":-0,"total_price":"1\"0\u00e9 \n",
        "customer":{"id":1.50e3},"financial_status":true,"processed_at":null,
        "cancelled_at":{"a":[1,{"b":"\t"}],"c":false},"created_at":"café",
        "refunds":[{"id":18446744073709551616,"created_at":"x",
        "transactions":[{"kind":"re\/fund","status":"","amount":-12}]}]}]}"#
        .as_bytes();
    use crate::connectors::declarative::pointer::JsonPointer;
    use crate::connectors::declarative::tree::Tree;
    let (mut seen, mut texts) = (Vec::new(), Vec::new());
    p.parse_streaming(text, &records, &mut |v| {
        for ptr in ["/id", "/customer/id", "/refunds/0/id", "/total_price"] {
            let t = JsonPointer::new(ptr).find(&v).unwrap();
            texts.push(t.text().unwrap().into_owned());
        }
        seen.push(value(&v));
    })
    .unwrap();
    let whole = p.parse(text).unwrap();
    assert_eq!(Value::Array(seen), whole["orders"]);
    let order = &whole["orders"][0];
    assert_eq!(
        texts,
        [
            order["id"].to_string(),
            order["customer"]["id"].to_string(),
            order["refunds"][0]["id"].to_string(),
            order["total_price"].as_str().unwrap().to_string(),
        ]
    );
    assert_eq!(texts, ["-0", "1.50e+3", "18446744073709551616", "1\"0é \n"]);
    // A broken escape or number in a kept value fails the page.
    for bad in [
        &br#"{"orders":[{"id":"\x"}]}"#[..],
        br#"{"orders":[{"id":01}]}"#,
    ] {
        assert!(p.parse_streaming(bad, &records, &mut |_| ()).is_err());
    }
}

#[test]
fn a_repeated_key_reads_its_last_value_as_in_a_value() {
    use crate::connectors::declarative::tree::Tree;
    let p = projection("shopify");
    let records = tokens("/orders").unwrap();
    let text = br#"{"orders":[{"id":1,"total_price":"1.00","id":2,"total_price":"3.50"}]}"#;
    let mut read = Vec::new();
    p.parse_streaming(text, &records, &mut |v| {
        let text = |k: &str| v.key(k).unwrap().text().unwrap().into_owned();
        read.push((text("id"), text("total_price")));
    })
    .unwrap();
    let full: Value = serde_json::from_slice(text).unwrap();
    assert_eq!(full["orders"][0]["id"].to_string(), "2");
    assert_eq!(read, [("2".to_string(), "3.50".to_string())]);
}

#[test]
fn streamed_records_are_the_parsed_ones_handed_over_one_by_one() {
    let p = projection("shopify");
    let records = tokens("/orders").unwrap();
    let text = br#"{"orders":[{"id":1,"note":"x","total_price":"1.00"},{"id":2}],"next":"c"}"#;
    let mut seen = Vec::new();
    let (rest, count) = p
        .parse_streaming(text, &records, &mut |v| seen.push(value(&v)))
        .unwrap();
    let whole = p.parse(text).unwrap();
    assert_eq!(count, Some(2));
    assert_eq!(Value::Array(seen), whole["orders"]);
    assert_eq!(rest, json!({"orders": []}));
    // No list there: nothing handed over, the tree shows what there is.
    for (text, want) in [
        (&br#"{"orders":null}"#[..], json!({"orders": null})),
        (br#"{"orders":{"id":1}}"#, json!({"orders": {}})),
        (br#"{"other":[]}"#, json!({})),
    ] {
        let (rest, count) = p
            .parse_streaming(text, &records, &mut |_| panic!("no record"))
            .unwrap();
        assert_eq!((rest, count), (want, None));
    }
    // A top-level list (WooCommerce) streams from the root.
    let woo = projection("woocommerce");
    let mut n = 0;
    let (rest, count) = woo
        .parse_streaming(br#"[{"id":1},{"id":2},{"id":3}]"#, &[], &mut |_| n += 1)
        .unwrap();
    assert_eq!((rest, count, n), (json!([]), Some(3), 3));
    assert!(p
        .parse_streaming(br#"{"orders":[{"id":1}"#, &records, &mut |_| ())
        .is_err());
}

#[test]
fn keys_are_matched_as_spelled_and_kept_keys_are_checked_as_text() {
    let p = projection("shopify");
    let records = tokens("/orders").unwrap();
    let parse = |text: &[u8]| {
        let mut seen = Vec::new();
        p.parse_streaming(text, &records, &mut |v| seen.push(value(&v)))
            .map(|_| seen)
    };
    // An escaped key is the key it spells, streamed or not.
    let escaped = br#"{"\u006frders":[{"i\u0064":7,"total_\u0070rice":"1.5","n\u00f6te":1}]}"#;
    assert_eq!(
        parse(escaped).unwrap(),
        [json!({"id": 7, "total_price": "1.5"})]
    );
    let whole = p.parse(escaped).unwrap();
    assert_eq!(whole, json!({"orders": [{"id": 7, "total_price": "1.5"}]}));
    // A kept key must be text as serde_json reads a key: no raw control
    // character, no lone surrogate. A skipped one is passed over as a
    // skipped value is.
    for bad in [
        &b"{\"orders\":[{\"id\":1}],\"\x01\":0,\"orders\x01\":[]}"[..],
        br#"{"orders":[{"id":1}],"x":0,"\ud800orders":[]}"#,
    ] {
        assert_eq!(parse(bad).unwrap(), [json!({"id": 1})], "skipped");
    }
    // Inside a value kept whole (`cancelled_at` is read as a value), every
    // key is kept and checked.
    let whole_kept = b"{\"orders\":[{\"id\":1,\"cancelled_at\":{\"a\x01\":2}}]}";
    let e = parse(whole_kept).unwrap_err();
    assert!(e.to_string().contains("control character"), "{e}");
    let surrogate = br#"{"orders":[{"id":1,"cancelled_at":{"\ud800":2}}]}"#;
    let e = parse(surrogate).unwrap_err();
    assert!(e.to_string().contains("not UTF-8"), "{e}");
}
