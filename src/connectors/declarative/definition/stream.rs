//! One `[streams.X]`: request, window, records and their mappings.

use super::super::file::*;
use super::super::plan::*;
use super::super::projection::Projection;
use super::super::template::Template;
use super::checker::Checker;
use super::paging::{page_plan, slice_length};
use super::{PAGE_VARS, WINDOW_VARS};

/// Checks one stream: its request, window, pagination and mapping.
pub(super) fn stream_plan(c: &mut Checker, name: &str, s: &RawStream) -> StreamPlan {
    let all_vars: Vec<&str> = WINDOW_VARS.iter().chain(PAGE_VARS).copied().collect();
    let key = format!("streams.{name}");
    let method = match s.method.to_ascii_uppercase().as_str() {
        "GET" => reqwest::Method::GET,
        "POST" => reqwest::Method::POST,
        other => {
            c.report(
                format!("{key}.method"),
                format!("`{other}` is not GET or POST"),
            );
            reqwest::Method::GET
        }
    };
    if !s.path.starts_with('/') {
        c.report(
            format!("{key}.path"),
            "starts with `/` (it is appended to base_url)",
        );
    }
    let path = c.template(&format!("{key}.path"), &s.path, &all_vars, false);
    if !s.records.is_empty() && !s.records.starts_with('/') {
        c.report(
            format!("{key}.records"),
            format!(
                "`{}` is not a JSON pointer (`/data/items`, or \"\" for the whole body)",
                s.records
            ),
        );
    }
    let query = c.params(&format!("{key}.query"), &s.query, &all_vars);
    let body = s.body.as_ref().map(|b| {
        let v = serde_json::to_value(b).unwrap_or(serde_json::Value::Null);
        check_body(c, &format!("{key}.body"), &v, &all_vars);
        v
    });
    if body.is_some() && method == reqwest::Method::GET {
        c.report(
            format!("{key}.body"),
            "a GET request has no body; set `method = \"POST\"`",
        );
    }
    let wk = format!("{key}.window");
    let (format, zone) = c.format_and_zone(&wk, &s.window.format, s.window.zone.as_deref());
    let bounds = match s.window.bounds.as_deref().unwrap_or("half_open") {
        "half_open" => Bounds::HalfOpen,
        "exclusive" => Bounds::Exclusive,
        "inclusive" => Bounds::Inclusive,
        other => {
            c.report(
                format!("{wk}.bounds"),
                format!("`{other}` is not half_open, exclusive or inclusive"),
            );
            Bounds::HalfOpen
        }
    };
    let slice = slice_length(c, &format!("{wk}.slice"), s.window.slice.as_deref());
    let scheduled = match s.window.scheduled.as_deref().unwrap_or("cursor") {
        "cursor" => Scheduled::Cursor,
        "lookback" => Scheduled::Lookback,
        "reached" => Scheduled::Reached,
        other => {
            c.report(
                format!("{wk}.scheduled"),
                format!("`{other}` is not cursor, lookback or reached"),
            );
            Scheduled::Cursor
        }
    };
    let through = match s.window.through.as_deref().unwrap_or("today") {
        "today" => Through::Today,
        "yesterday" => Through::Yesterday,
        other => {
            c.report(
                format!("{wk}.through"),
                format!("`{other}` is not today or yesterday"),
            );
            Through::Today
        }
    };
    let backfill = c.params(&format!("{wk}.backfill"), &s.window.backfill, &all_vars);
    let incremental = match &s.window.incremental {
        Some(m) => c.params(&format!("{wk}.incremental"), m, &all_vars),
        None => backfill.clone(),
    };
    let body_vars = body.as_ref().map(body_vars).unwrap_or_default();
    let windowed =
        |ps: &[(String, Template)]| ps.iter().any(|(_, t)| t.uses("from") || t.uses("to"));
    if !windowed(&query)
        && !windowed(&backfill)
        && !path.uses("from")
        && !body_vars.iter().any(|v| v == "from" || v == "to")
    {
        c.report(
            format!("{wk}.backfill"),
            "no parameter uses {from} or {to}: every request would fetch everything",
        );
    }
    let pagination = page_plan(c, &format!("{key}.pagination"), &s.pagination);
    let page_var = match &pagination.style {
        PageStyle::Page { .. } | PageStyle::Reverse => Some("page"),
        PageStyle::Offset => Some("offset"),
        PageStyle::Cursor { .. } | PageStyle::Token(_) => Some("cursor"),
        PageStyle::None | PageStyle::Link => None,
    };
    if let Some(v) = page_var {
        let used = query.iter().any(|(_, t)| t.uses(v))
            || path.uses(v)
            || body_vars.iter().any(|b| b == v);
        if !used {
            c.report(
                format!("{key}.query"),
                format!(
                    "`{}` pagination needs a parameter using {{{v}}}",
                    s.pagination.style.as_deref().unwrap_or("none")
                ),
            );
        }
    }
    let order = s.order.as_ref().map(|o| {
        let k = format!("{key}.order");
        OrderPlan {
            id: c.plain(&format!("{k}.id"), "id", &o.id, false),
            paid_at: c.time(&format!("{k}.paid_at"), "paid_at", &o.paid_at, false),
            amount: c.amount(&format!("{k}.amount"), "amount", &o.amount, false),
            buyer_id: o
                .buyer_id
                .as_ref()
                .map(|f| c.plain(&format!("{k}.buyer_id"), "buyer_id", f, false)),
            status: o
                .status
                .as_ref()
                .map(|f| c.status(&format!("{k}.status"), f)),
        }
    });
    let refunds = s.refunds.as_ref().map(|r| {
        let k = format!("{key}.refunds");
        let nested = r.each.is_some();
        if let Some(e) = &r.each {
            c.pointer(&format!("{k}.each"), e, false);
        } else if order.is_some() {
            c.report(
                format!("{k}.each"),
                "refunds beside an `order` are nested in it: name the array with `each`",
            );
        }
        RefundPlan {
            each: r.each.as_deref().map(Into::into),
            id: c.plain(&format!("{k}.id"), "refund id", &r.id, nested),
            order_id: c.plain(&format!("{k}.order_id"), "order_id", &r.order_id, nested),
            refunded_at: c.time(
                &format!("{k}.refunded_at"),
                "refunded_at",
                &r.refunded_at,
                nested,
            ),
            amount: c.amount(&format!("{k}.amount"), "refund amount", &r.amount, nested),
        }
    });
    let daily = s.daily.as_ref().map(|d| {
        let k = format!("{key}.daily");
        let day = match &d.day.format {
            Some(p) if is_date_pattern(p) => {
                if d.day.zone.is_some() {
                    c.report(
                        format!("{k}.day.zone"),
                        "a calendar date has no zone: it is the shop's day as written",
                    );
                }
                DayPlan::Date {
                    field: c.field(&format!("{k}.day"), "day", &d.day, false),
                    pattern: p.clone(),
                }
            }
            _ => DayPlan::Instant(c.time(&format!("{k}.day"), "day", &d.day, false)),
        };
        let known: Vec<&str> = crate::kpi::catalogue::INPUTS.iter().map(|i| i.id).collect();
        let mut inputs = Vec::new();
        for (input, f) in &d.inputs {
            if !known.contains(&input.as_str()) {
                c.report(
                    format!("{k}.inputs.{input}"),
                    format!("`{input}` is not an input (see `kpid kpis --inputs`)"),
                );
            }
            inputs.push((
                input.clone(),
                c.amount(
                    &format!("{k}.inputs.{input}"),
                    &format!("inputs.{input}"),
                    f,
                    false,
                ),
            ));
        }
        if inputs.is_empty() {
            c.report(format!("{k}.inputs"), "map at least one input to a pointer");
        }
        if d.label.is_some() && d.dimension.is_none() {
            c.report(
                format!("{k}.label"),
                "names the `dimension`, which is not set",
            );
        }
        DailyPlan {
            day,
            dimension: d
                .dimension
                .as_ref()
                .map(|f| c.plain(&format!("{k}.dimension"), "dimension", f, false)),
            label: d.label.clone(),
            until: d
                .until
                .as_ref()
                .map(|f| c.plain(&format!("{k}.until"), "until", f, false)),
            inputs,
        }
    });
    match (&order, &refunds, &daily) {
        (None, None, None) => c.report(
            key.clone(),
            "a stream maps its records with `order`, `refunds` or `daily`",
        ),
        (_, _, Some(_)) if order.is_some() || refunds.is_some() => c.report(
            format!("{key}.daily"),
            "a daily stream maps no orders or refunds: make it its own stream",
        ),
        _ => {}
    }
    for (what, p) in [("reports_zone", &s.reports_zone), ("columns", &s.columns)] {
        if let Some(p) = p {
            c.pointer(&format!("{key}.{what}"), p, false);
        }
    }
    let mut plan = StreamPlan {
        name: name.to_string(),
        api: s.api.clone(),
        method,
        path,
        records: s.records.clone(),
        records_optional: s.records_optional,
        reports_zone: s.reports_zone.clone(),
        columns: s.columns.clone(),
        query,
        body,
        window: WindowPlan {
            format,
            zone,
            bounds,
            slice,
            backfill,
            incremental,
            scheduled,
            through,
        },
        pagination,
        order,
        refunds,
        daily,
        projection: Projection::default(),
    };
    plan.projection = super::super::reads::projection(&plan);
    plan
}

/// A pattern with no time of day reads as a calendar date.
pub(super) fn is_date_pattern(p: &str) -> bool {
    ![
        "%H", "%I", "%M", "%S", "%T", "%R", "%s", "%+", "%c", "%X", "%r",
    ]
    .iter()
    .any(|t| p.contains(t))
        && !matches!(p, "rfc3339" | "unix" | "unix_ms")
}

/// The variables the string values of a body use (checked templates).
pub(super) fn body_vars(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => Template::parse(s)
            .map(|t| t.vars().map(str::to_string).collect())
            .unwrap_or_default(),
        serde_json::Value::Array(a) => a.iter().flat_map(body_vars).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(body_vars).collect(),
        _ => Vec::new(),
    }
}

pub(super) fn check_body(c: &mut Checker, key: &str, v: &serde_json::Value, vars: &[&str]) {
    match v {
        serde_json::Value::String(s) => {
            c.template(key, s, vars, true);
        }
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| check_body(c, &format!("{key}[{i}]"), x, vars)),
        serde_json::Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| check_body(c, &format!("{key}.{k}"), x, vars)),
        _ => {}
    }
}
