//! What a message says, laid out once ([`Doc`]: a title, sections of
//! labelled lines, a link) in the configured language; each channel turns
//! the layout into its own format (plain text, markdown, HTML, Slack blocks,
//! a Feishu card).

use super::format;
use crate::alerts::message::{
    AlertGroup, AlertNotice, AlertState, Digest, DigestLine, Language, Message, RenderOptions,
    ShopDigest, WatchPeriod,
};
use crate::kpi::catalogue::Direction;
use words::{words, Words};

mod words;

/// The colour of a message: red while firing, green once resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Firing,
    Resolved,
    Info,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub title: String,
    pub tone: Tone,
    pub sections: Vec<Section>,
    pub link: Option<Link>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub heading: Option<String>,
    pub lines: Vec<Line>,
}

impl Section {
    /// The section as one block of text: the heading as `heading` writes
    /// it, then each line as `line` writes it, one a line.
    pub fn text(&self, heading: impl Fn(&str) -> String, line: impl Fn(&Line) -> String) -> String {
        let mut text = String::new();
        if let Some(h) = &self.heading {
            text.push_str(&heading(h));
            text.push('\n');
        }
        for l in &self.lines {
            text.push_str(&line(l));
            text.push('\n');
        }
        text
    }
}

/// `label: text`, or a sentence when there is no label; `indent` nests it
/// under the line before.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub label: Option<String>,
    pub text: String,
    pub indent: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub label: String,
    pub url: String,
}

impl Line {
    fn labelled(label: &str, text: impl Into<String>) -> Self {
        Line {
            label: Some(label.to_string()),
            text: text.into(),
            indent: false,
        }
    }

    fn sentence(text: impl Into<String>) -> Self {
        Line {
            label: None,
            text: text.into(),
            indent: false,
        }
    }

    fn nested(mut self) -> Self {
        self.indent = true;
        self
    }
}

fn period_name(period: WatchPeriod, w: &Words) -> &'static str {
    match period {
        WatchPeriod::Today => w.today,
        WatchPeriod::Day => w.day,
        WatchPeriod::Month => w.month,
    }
}

/// `shop tmall-main` / `店铺 tmall-main`.
fn scope_of(alert: &AlertNotice, w: &Words) -> String {
    match (&alert.person, &alert.shop) {
        (Some(p), _) => format!("{} {p}", w.person),
        (None, Some(s)) => format!("{} {s}", w.shop),
        (None, None) => String::new(),
    }
}

/// What the condition says of the value: `down` KPIs are "worse than
/// target" when they breach `below_target`.
fn condition_words(alert: &AlertNotice, w: &Words) -> &'static str {
    match alert.condition.as_str() {
        "below_target" if alert.kpi.direction == Direction::Down => w.worse_than_target,
        "below_target" => w.below_target,
        "above_target" => w.above_target,
        "below" => w.below,
        "above" => w.above,
        "drop" => w.drop,
        "rise" => w.rise,
        _ => w.below_target,
    }
}

/// One sentence about an alert, e.g. "GMV (成交额) month to date at shop
/// tmall-main is below target: 1,234.50 (threshold 1,500.00)".
pub fn summary(alert: &AlertNotice, language: Language) -> String {
    let w = words(language);
    let kpi = alert.kpi.names(language);
    let (value, threshold) = format::value_and_threshold(
        alert.reading.measure.value,
        alert.reading.threshold,
        alert.kpi.unit,
    );
    let scope = scope_of(alert, w);
    let period = period_name(alert.period, w);
    match (alert.state, language) {
        (AlertState::Resolved, Language::En) => {
            format!("{kpi} {period} at {scope} {}: {value}", w.back_to_normal)
        }
        (AlertState::Resolved, Language::Zh) => {
            format!("{scope} {kpi}（{period}）{}：{value}", w.back_to_normal)
        }
        (_, Language::En) => format!(
            "{kpi} {period} at {scope} is {}: {value} (threshold {threshold})",
            condition_words(alert, w)
        ),
        (_, Language::Zh) => format!(
            "{scope} {kpi}（{period}）{}：{value}（阈值 {threshold}）",
            condition_words(alert, w)
        ),
    }
}

/// The state word of an alert.
pub fn state_word(state: AlertState, language: Language) -> &'static str {
    let w = words(language);
    match state {
        AlertState::Resolved => w.resolved,
        _ => w.firing,
    }
}

/// Lays out a message in the configured language.
pub fn doc(message: &Message, options: &RenderOptions) -> Doc {
    let link = options
        .dashboard_url
        .as_ref()
        .filter(|u| !u.trim().is_empty())
        .map(|url| Link {
            label: words(options.language).dashboard.to_string(),
            url: url.clone(),
        });
    let mut doc = match message {
        Message::Alerts(group) => alerts_doc(group, options.language),
        Message::Digest(digest) => digest_doc(digest, options.language),
        Message::Test { channel } => {
            let w = words(options.language);
            Doc {
                title: w.test_title.to_string(),
                tone: Tone::Info,
                sections: vec![Section {
                    heading: None,
                    lines: vec![Line::sentence(format!("{} {channel}", w.test_text))],
                }],
                link: None,
            }
        }
    };
    doc.link = link;
    doc
}

fn alerts_doc(group: &AlertGroup, language: Language) -> Doc {
    let w = words(language);
    let firing = group
        .alerts
        .iter()
        .filter(|a| a.state != AlertState::Resolved)
        .count();
    let resolved = group.alerts.len() - firing;
    let (head, firing_word, resolved_word, sep) = match language {
        Language::En => ("kpid alerts: ", " firing", " resolved", ", "),
        Language::Zh => ("kpid 告警：", " 条告警", " 条恢复", "，"),
    };
    let counts: Vec<String> = [(firing, firing_word), (resolved, resolved_word)]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n}{word}"))
        .collect();
    let title = format!("{head}{} — {}", counts.join(sep), group.scope);
    let sections = group
        .alerts
        .iter()
        .map(|a| alert_section(a, language, w))
        .collect();
    Doc {
        title,
        tone: if firing > 0 {
            Tone::Firing
        } else {
            Tone::Resolved
        },
        sections,
        link: None,
    }
}

fn alert_section(a: &AlertNotice, language: Language, w: &Words) -> Section {
    let kpi = a.kpi.names(language);
    let (value, threshold) =
        format::value_and_threshold(a.reading.measure.value, a.reading.threshold, a.kpi.unit);
    let mut lines = vec![
        Line::sentence(summary(a, language)),
        Line::labelled(w.rule, format!("{} ({})", a.rule, a.condition)),
        Line::labelled(w.kpi, format!("{kpi} · {}", a.kpi.id)),
        Line::labelled(w.scope, scope_of(a, w)),
        Line::labelled(
            w.period,
            format!("{} ({})", period_name(a.period, w), a.period_label),
        ),
        Line::labelled(w.value, value),
        Line::labelled(
            w.target,
            format::value(a.reading.measure.target, a.kpi.unit),
        ),
        Line::labelled(w.threshold, threshold),
        Line::labelled(
            w.attainment,
            format::opt_percent(a.reading.measure.attainment),
        ),
        Line::labelled(w.severity, a.severity.clone()),
        Line::labelled(
            w.since,
            a.starts_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
    ];
    if let Some(end) = a.ends_at {
        lines.push(Line::labelled(
            w.ended,
            end.format("%Y-%m-%d %H:%M UTC").to_string(),
        ));
    }
    let state = state_word(a.state, language);
    Section {
        heading: Some(match language {
            Language::En => format!("[{state}] {kpi} — {}", scope_of(a, w)),
            Language::Zh => format!("【{state}】{kpi} — {}", scope_of(a, w)),
        }),
        lines,
    }
}

fn digest_doc(digest: &Digest, language: Language) -> Doc {
    let w = words(language);
    Doc {
        title: match language {
            Language::En => format!("{} “{}”", w.digest_title, digest.name),
            Language::Zh => format!("{}「{}」", w.digest_title, digest.name),
        },
        tone: Tone::Info,
        sections: digest
            .shops
            .iter()
            .map(|s| shop_section(s, language, w))
            .collect(),
        link: None,
    }
}

fn shop_section(shop: &ShopDigest, language: Language, w: &Words) -> Section {
    let mut lines = Vec::new();
    for line in &shop.lines {
        lines.extend(digest_lines(line, shop, language, w));
    }
    if shop.firing.is_empty() {
        lines.push(Line::labelled(w.firing_alerts, w.none));
    } else {
        lines.push(Line::labelled(
            w.firing_alerts,
            shop.firing.len().to_string(),
        ));
        lines.extend(
            shop.firing
                .iter()
                .map(|a| Line::sentence(summary(a, language)).nested()),
        );
    }
    Section {
        heading: Some(format!(
            "{} {} · {} ({})",
            w.shop, shop.shop, shop.day, shop.currency
        )),
        lines,
    }
}

fn digest_lines(line: &DigestLine, shop: &ShopDigest, language: Language, w: &Words) -> Vec<Line> {
    let v = |d| format::value(d, line.kpi.unit);
    let sep = match language {
        Language::En => ", ",
        Language::Zh => "，",
    };
    let says = |word: &str, figure: String| format!("{word} {figure}");
    let day = [
        says(w.yesterday, v(line.day_value)),
        says(w.target, v(line.day_target)),
        says(w.attainment, format::opt_percent(line.day_attainment)),
        says(
            w.vs_previous_day,
            format::opt_change(line.change_previous_day),
        ),
        says(
            w.vs_same_day_last_week,
            format::opt_change(line.change_same_day_last_week),
        ),
    ]
    .join(sep);
    let month = match &shop.month_to_date {
        Some(days) => [
            format!("{} ({days}) {}", w.month_to_date, v(line.month_value)),
            says(w.target, v(line.month_target)),
            says(w.attainment, format::opt_percent(line.month_attainment)),
        ]
        .join(sep),
        None => format!("{}: {}", w.month_to_date, w.no_month_to_date),
    };
    let mut name = line.kpi.names(language);
    if line.kpi.direction == Direction::Down {
        // Lower is better: say so, so a rise is not read as good news.
        name.push_str(match language {
            Language::En => " ↓ lower is better",
            Language::Zh => " ↓ 越低越好",
        });
    }
    vec![
        Line::labelled(&name, String::new()),
        Line::sentence(day).nested(),
        Line::sentence(month).nested(),
    ]
}

/// Plain text: the title, then each section's heading and lines.
pub fn plain(doc: &Doc) -> String {
    let mut out = doc.title.clone();
    for s in &doc.sections {
        out.push('\n');
        if let Some(h) = &s.heading {
            out.push('\n');
            out.push_str(h);
        }
        for l in &s.lines {
            out.push('\n');
            if l.indent {
                out.push_str("    ");
            } else if s.heading.is_some() {
                out.push_str("  ");
            }
            out.push_str(&line_text(l, str::to_string, str::to_string));
        }
    }
    if let Some(link) = &doc.link {
        out.push_str(&format!("\n\n{}: {}", link.label, link.url));
    }
    out
}

/// The whole message on one line, for a log record.
pub fn one_line(doc: &Doc) -> String {
    plain(doc)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// `label: text` with the label made bold and both escaped for the format.
pub fn line_text(
    l: &Line,
    bold: impl Fn(&str) -> String,
    escape: impl Fn(&str) -> String,
) -> String {
    match (&l.label, l.text.is_empty()) {
        (Some(label), true) => bold(&escape(label)),
        (Some(label), false) => format!("{}: {}", bold(&escape(label)), escape(&l.text)),
        (None, _) => escape(&l.text),
    }
}

/// Markdown as DingTalk and WeCom robots render it: headings, bold labels,
/// list items, a link.
pub fn markdown(doc: &Doc) -> String {
    let mut out = format!("### {}\n", doc.title);
    for s in &doc.sections {
        if let Some(h) = &s.heading {
            out.push_str(&format!("\n#### {h}\n"));
        }
        out.push('\n');
        for l in &s.lines {
            let prefix = if l.indent { "    - " } else { "- " };
            out.push_str(prefix);
            out.push_str(&line_text(l, |s| format!("**{s}**"), str::to_string));
            out.push('\n');
        }
    }
    if let Some(link) = &doc.link {
        out.push_str(&format!("\n[{}]({})\n", link.label, link.url));
    }
    out
}

/// HTML for email, every text escaped.
pub fn html(doc: &Doc) -> String {
    let colour = match doc.tone {
        Tone::Firing => "#c0392b",
        Tone::Resolved => "#27ae60",
        Tone::Info => "#2c3e50",
    };
    let mut out = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\"><h2 style=\"color:{colour}\">{}</h2>",
        escape(&doc.title)
    );
    for s in &doc.sections {
        if let Some(h) = &s.heading {
            out.push_str(&format!("<h3>{}</h3>", escape(h)));
        }
        out.push_str("<ul>");
        for l in &s.lines {
            let style = if l.indent {
                " style=\"margin-left:1.5em\""
            } else {
                ""
            };
            let text = line_text(l, |s| format!("<b>{s}</b>"), escape);
            out.push_str(&format!("<li{style}>{text}</li>"));
        }
        out.push_str("</ul>");
    }
    if let Some(link) = &doc.link {
        out.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape(&link.url),
            escape(&link.label)
        ));
    }
    out.push_str("</body></html>");
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::message::{KpiLabel, Measure, Reading};
    use crate::kpi::catalogue::Unit;
    use chrono::{TimeZone, Utc};

    fn resolved(person: Option<&str>) -> Message {
        Message::Alerts(AlertGroup {
            scope: "alice".into(),
            alerts: vec![AlertNotice {
                rule: "first-response".into(),
                kpi: KpiLabel {
                    id: "first_response_seconds".into(),
                    name_zh: "及时响应时间".into(),
                    name_en: "First response <time>".into(),
                    unit: Unit::Seconds,
                    direction: Direction::Down,
                },
                period: WatchPeriod::Today,
                period_label: "2026-10-10".into(),
                shop: None,
                person: person.map(str::to_string),
                state: AlertState::Resolved,
                severity: "warning".into(),
                condition: "below_target".into(),
                reading: Reading {
                    measure: Measure {
                        value: Some("42".parse().unwrap()),
                        target: Some("60".parse().unwrap()),
                        attainment: None,
                    },
                    threshold: Some("60".parse().unwrap()),
                },
                starts_at: Utc.with_ymd_and_hms(2026, 10, 10, 1, 0, 0).unwrap(),
                ends_at: Some(Utc.with_ymd_and_hms(2026, 10, 10, 2, 30, 0).unwrap()),
            }],
        })
    }

    /// A CSAT of 4.598 against a threshold of 4.6 read "4.6 (threshold
    /// 4.6)": a breach no one could see.
    #[test]
    fn a_breach_that_rounds_to_its_threshold_shows_the_places_that_tell_them_apart() {
        let Message::Alerts(mut group) = resolved(Some("alice")) else {
            unreachable!()
        };
        let a = &mut group.alerts[0];
        a.state = AlertState::Firing;
        a.ends_at = None;
        a.kpi.unit = Unit::Score;
        a.kpi.direction = Direction::Up;
        a.reading.measure.value = Some("4.598".parse().unwrap());
        a.reading.measure.target = Some("4.6".parse().unwrap());
        a.reading.threshold = Some("4.6".parse().unwrap());
        let en = summary(a, Language::En);
        assert!(
            en.ends_with("is below target: 4.598 (threshold 4.600)"),
            "{en}"
        );
        let zh = summary(a, Language::Zh);
        assert!(zh.ends_with("低于目标：4.598（阈值 4.600）"), "{zh}");
        let text = plain(&doc(
            &Message::Alerts(group.clone()),
            &RenderOptions {
                language: Language::En,
                dashboard_url: None,
            },
        ));
        for part in ["Value: 4.598", "Threshold: 4.600", "Target: 4.6"] {
            assert!(text.contains(part), "`{part}` missing:\n{text}");
        }
        // Apart from its threshold, a value keeps the usual places.
        let a = &mut group.alerts[0];
        a.reading.measure.value = Some("4.2".parse().unwrap());
        let en = summary(a, Language::En);
        assert!(en.ends_with(": 4.2 (threshold 4.6)"), "{en}");
        // A percentage a hair under its threshold.
        a.kpi.unit = Unit::Percent;
        a.reading.measure.value = Some("0.2499996".parse().unwrap());
        a.reading.threshold = Some("0.25".parse().unwrap());
        let en = summary(a, Language::En);
        assert!(en.ends_with(": 24.99996% (threshold 25.00000%)"), "{en}");
    }

    #[test]
    fn a_resolved_notice_says_so_in_both_languages() {
        let m = resolved(Some("alice"));
        let en = doc(
            &m,
            &RenderOptions {
                language: Language::En,
                dashboard_url: None,
            },
        );
        assert_eq!(en.tone, Tone::Resolved);
        assert_eq!(en.title, "kpid alerts: 1 resolved — alice");
        let text = plain(&en);
        for part in [
            "[RESOLVED]",
            "person alice",
            "back within bounds",
            "42s",
            "Resolved at: 2026-10-10 02:30 UTC",
            "Attainment: n/a",
        ] {
            assert!(text.contains(part), "`{part}` missing:\n{text}");
        }
        assert!(en.link.is_none(), "no dashboard_url, no link");
        let zh = plain(&doc(
            &m,
            &RenderOptions {
                language: Language::Zh,
                dashboard_url: Some(String::new()),
            },
        ));
        for part in [
            "【已恢复】",
            "人员 alice",
            "已恢复正常",
            "恢复时间",
            "今日截至目前",
        ] {
            assert!(zh.contains(part), "`{part}` missing:\n{zh}");
        }
        assert!(
            !zh.contains("打开看板"),
            "an empty dashboard_url is no link"
        );
    }

    #[test]
    fn html_escapes_what_it_shows() {
        let html = html(&doc(&resolved(Some("alice")), &RenderOptions::default()));
        assert!(html.contains("First response &lt;time&gt;"), "{html}");
        assert!(!html.contains("<time>"));
        assert!(html.contains("#27ae60"), "green once resolved");
    }
}
