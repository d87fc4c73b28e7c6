//! Scorecards for people: a bilingual table, JSON, CSV, and the XLSX
//! workbook an HR team hands round (one sheet per role and a summary).

use crate::currency::MoneyPlan;
use crate::format::{display_value, fixed, json_number, pad_left, round_display};
use crate::kpi::Unit;
use crate::report::NameColumns;
use crate::scoring::Grade;
use crate::settings::Settings;
use crate::store::StoredScorecard;
use crate::targets::roles::{Person, Role};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};
use serde_json::{json, Value};
use std::fmt::Write;

/// The person, role and grade a card refers to, resolved from the settings
/// (a person or role no longer configured shows by id).
pub struct CardView<'a> {
    pub card: &'a StoredScorecard,
    pub person: Option<&'a Person>,
    pub role: Option<&'a Role>,
    pub grade: Option<&'a Grade>,
}

impl<'a> CardView<'a> {
    pub fn new(settings: &'a Settings, card: &'a StoredScorecard) -> Self {
        CardView {
            card,
            person: settings.person(&card.person),
            role: settings.role(&card.role),
            grade: card
                .grade
                .as_deref()
                .and_then(|g| settings.scoring.grade_by_id(g)),
        }
    }

    fn name(&self) -> &str {
        self.person
            .map(|p| p.name.as_str())
            .unwrap_or(&self.card.person)
    }

    fn role_names(&self) -> (String, String) {
        match self.role {
            Some(r) => (r.name_zh.clone(), r.name_en.clone()),
            None => (self.card.role.clone(), self.card.role.clone()),
        }
    }

    fn grade_names(&self) -> (String, String) {
        match (self.grade, &self.card.grade) {
            (Some(g), _) => (g.name_zh.clone(), g.name_en.clone()),
            (None, Some(id)) => (id.clone(), id.clone()),
            (None, None) => ("-".into(), "-".into()),
        }
    }
}

fn total_text(d: Option<Decimal>) -> String {
    d.map(|d| fixed(d, 2)).unwrap_or_else(|| "n/a".into())
}

/// For a person covering shops of several currencies: the currency of the
/// money values and the rates used, or a warning that money has no value.
/// From today's settings (the rates a card is computed with).
pub fn money_note(settings: &Settings, view: &CardView) -> Option<String> {
    let plan = super::scope::money_plan(settings, view.person?, view.card.period);
    let note = plan.note()?;
    Some(match plan {
        MoneyPlan::NoValue(_) => format!("warning: {note}"),
        _ => note,
    })
}

/// `kpid report --scorecards --person ID --format json`.
pub fn card_json(card: &StoredScorecard) -> Value {
    let kpis: Vec<Value> = card
        .lines
        .iter()
        .map(|l| {
            json!({
                "id": l.kpi,
                "value": json_number(l.measure.value),
                "target": json_number(l.measure.target),
                "attainment": json_number(l.measure.attainment),
                "weight": json_number(Some(l.weight)),
                "score": json_number(l.score),
            })
        })
        .collect();
    let mut obj = json!({
        "period": card.period.to_string(),
        "person": card.person,
        "role": card.role,
        "revision": card.revision,
        "total": json_number(card.total),
        "grade": card.grade,
        "bonus_coefficient": json_number(card.bonus),
        "kpis": kpis,
        "missing": card.missing(),
    });
    if let crate::period::Period::Year(_) = card.period {
        obj["monthly_mean"] = json_number(card.monthly_mean);
    }
    obj
}

/// The bilingual table of one scorecard.
pub fn card_table(settings: &Settings, view: &CardView) -> String {
    let card = view.card;
    let mut out = String::new();
    let (role_zh, role_en) = view.role_names();
    let (grade_zh, grade_en) = view.grade_names();
    let _ = writeln!(
        out,
        "{} {} ({}) · {}/{} — revision {}{}",
        card.period,
        view.name(),
        card.person,
        role_zh,
        role_en,
        card.revision,
        if card.reason == "computed" {
            String::new()
        } else {
            format!(" ({})", card.reason)
        }
    );
    let names = NameColumns::new(
        card.lines.iter().map(|l| l.kpi.as_str()),
        &settings.catalogue,
    );
    let _ = writeln!(
        out,
        "{}{} {} {} {:>8} {:>8}",
        names.header(),
        pad_left("value 实际", 14),
        pad_left("target 目标", 14),
        pad_left("完成率", 11),
        "weight",
        "score"
    );
    for (l, names) in card.lines.iter().zip(names.lines()) {
        let unit = settings.catalogue.get(&l.kpi).map(|s| s.unit);
        let _ = writeln!(
            out,
            "{names}{:>14} {:>14} {:>11} {:>8} {:>8}",
            display_value(l.measure.value, unit),
            l.measure
                .target
                .map(|t| display_value(Some(t), unit))
                .unwrap_or_else(|| "-".into()),
            l.measure
                .attainment
                .map(|a| display_value(Some(a), Some(Unit::Percent)))
                .unwrap_or_else(|| "-".into()),
            round_display(l.weight, 2).to_string(),
            l.score
                .map(|s| fixed(s, 2))
                .unwrap_or_else(|| "missing".into()),
        );
    }
    let _ = writeln!(
        out,
        "总分 Total {}   等级 Grade {} {}   奖金系数 Bonus coefficient {}",
        total_text(card.total),
        grade_zh,
        grade_en,
        card.bonus
            .map(|b| b.normalize().to_string())
            .unwrap_or_else(|| "-".into())
    );
    if let Some(m) = card.monthly_mean {
        let _ = writeln!(
            out,
            "月度平均 Mean of closed months {}",
            total_text(Some(m))
        );
    }
    if let Some(note) = money_note(settings, view) {
        let _ = writeln!(out, "货币 Currency: {note}");
    }
    let missing = card.missing();
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "缺失 Missing (not scored, not counted): {}",
            missing.join(", ")
        );
    }
    out
}

pub const CSV_HEADER: [&str; 13] = [
    "period",
    "person",
    "name",
    "role",
    "revision",
    "kpi",
    "value",
    "target",
    "attainment",
    "weight",
    "score",
    "total",
    "grade",
];

/// One CSV row per KPI line; `total` and `grade` repeat on every row so
/// the file filters well in a spreadsheet.
pub fn card_csv<W: std::io::Write>(
    view: &CardView,
    w: &mut csv::Writer<W>,
) -> Result<(), csv::Error> {
    let card = view.card;
    let t = |d: Option<Decimal>| d.map(|d| d.normalize().to_string()).unwrap_or_default();
    for l in &card.lines {
        w.write_record([
            card.period.to_string(),
            card.person.clone(),
            view.name().to_string(),
            card.role.clone(),
            card.revision.to_string(),
            l.kpi.to_string(),
            t(l.measure.value),
            t(l.measure.target),
            t(l.measure.attainment),
            l.weight.normalize().to_string(),
            t(l.score),
            t(card.total),
            card.grade.clone().unwrap_or_default(),
        ])?;
    }
    Ok(())
}

/// The scorecards as `kpid report --scorecards --format csv` prints them.
pub fn cards_csv(views: &[CardView]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for v in views {
        card_csv(v, &mut w)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

fn num(d: Option<Decimal>) -> Option<f64> {
    d.and_then(|d| d.to_f64())
}

/// Sheet names may not exceed 31 characters or hold `[]:*?/\`.
fn sheet_name(role: &str) -> String {
    role.chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(31)
        .collect()
}

/// The workbook: a summary sheet (汇总 Summary) of every person, then one
/// sheet per role with each KPI's value, target and score side by side.
/// Cells hold numbers (rounded for display by the cell format, exact to the
/// stored decimals up to a double's precision).
pub fn workbook(settings: &Settings, views: &[CardView]) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let head = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_text_wrap();
    let two = Format::new().set_num_format("0.00");
    let pct = Format::new().set_num_format("0.00%");

    let summary = wb.add_worksheet();
    summary.set_name("汇总 Summary")?;
    let cols = [
        "期间 Period",
        "工号 ID",
        "姓名 Name",
        "岗位 Role",
        "总分 Total",
        "等级 Grade",
        "奖金系数 Bonus coefficient",
        "版本 Revision",
        "缺失 Missing",
    ];
    for (c, h) in cols.iter().enumerate() {
        summary.write_string_with_format(0, c as u16, *h, &head)?;
    }
    for (r, v) in views.iter().enumerate() {
        let row = r as u32 + 1;
        let (role_zh, role_en) = v.role_names();
        let (grade_zh, grade_en) = v.grade_names();
        summary.write_string(row, 0, v.card.period.to_string())?;
        summary.write_string(row, 1, &v.card.person)?;
        summary.write_string(row, 2, v.name())?;
        summary.write_string(row, 3, format!("{role_zh} {role_en}"))?;
        if let Some(t) = num(v.card.total) {
            summary.write_number_with_format(row, 4, t, &two)?;
        }
        summary.write_string(row, 5, format!("{grade_zh} {grade_en}"))?;
        if let Some(b) = num(v.card.bonus) {
            summary.write_number(row, 6, b)?;
        }
        summary.write_number(row, 7, v.card.revision as f64)?;
        summary.write_string(row, 8, v.card.missing().join(", "))?;
    }
    summary.set_column_width(2, 14)?;
    summary.set_column_width(3, 28)?;
    summary.set_column_width(5, 16)?;
    summary.set_column_width(8, 30)?;
    summary.set_freeze_panes(1, 0)?;

    let mut roles: Vec<&str> = views.iter().map(|v| v.card.role.as_str()).collect();
    roles.sort_unstable();
    roles.dedup();
    for role_id in roles {
        let members: Vec<&CardView> = views.iter().filter(|v| v.card.role == role_id).collect();
        let kpis: Vec<&str> = members[0]
            .card
            .lines
            .iter()
            .map(|l| l.kpi.as_str())
            .collect();
        let sheet = wb.add_worksheet();
        let role_zh = members[0].role_names().0;
        sheet.set_name(sheet_name(&format!("{role_zh} {role_id}")))?;
        // Two header rows: the KPI names over their value/target/score columns.
        sheet.write_string_with_format(0, 0, "工号 ID", &head)?;
        sheet.write_string_with_format(0, 1, "姓名 Name", &head)?;
        for (i, k) in kpis.iter().enumerate() {
            let col = 2 + 4 * i as u16;
            let spec = settings.catalogue.get(k);
            let title = match spec {
                Some(s) => format!("{} {}", s.name_zh, s.name_en),
                None => k.to_string(),
            };
            sheet.merge_range(0, col, 0, col + 3, &title, &head)?;
            for (j, h) in ["实际 Value", "目标 Target", "权重 Weight", "得分 Score"]
                .iter()
                .enumerate()
            {
                sheet.write_string_with_format(1, col + j as u16, *h, &head)?;
            }
        }
        let tail = 2 + 4 * kpis.len() as u16;
        for (j, h) in ["总分 Total", "等级 Grade", "奖金系数 Bonus"]
            .iter()
            .enumerate()
        {
            sheet.write_string_with_format(0, tail + j as u16, *h, &head)?;
        }
        for (r, v) in members.iter().enumerate() {
            let row = 2 + r as u32;
            sheet.write_string(row, 0, &v.card.person)?;
            sheet.write_string(row, 1, v.name())?;
            for (i, k) in kpis.iter().enumerate() {
                let col = 2 + 4 * i as u16;
                let Some(l) = v.card.lines.iter().find(|l| l.kpi == *k) else {
                    continue;
                };
                let percent = settings.catalogue.get(k).map(|s| s.unit) == Some(Unit::Percent);
                let fmt = if percent { &pct } else { &two };
                if let Some(x) = num(l.measure.value) {
                    sheet.write_number_with_format(row, col, x, fmt)?;
                } else {
                    sheet.write_string(row, col, "n/a")?;
                }
                if let Some(x) = num(l.measure.target) {
                    sheet.write_number_with_format(row, col + 1, x, fmt)?;
                }
                if let Some(x) = num(Some(l.weight)) {
                    sheet.write_number(row, col + 2, x)?;
                }
                match num(l.score) {
                    Some(x) => sheet.write_number_with_format(row, col + 3, x, &two)?,
                    None => sheet.write_string(row, col + 3, "缺失 missing")?,
                };
            }
            if let Some(t) = num(v.card.total) {
                sheet.write_number_with_format(row, tail, t, &two)?;
            }
            let (grade_zh, grade_en) = v.grade_names();
            sheet.write_string(row, tail + 1, format!("{grade_zh} {grade_en}"))?;
            if let Some(b) = num(v.card.bonus) {
                sheet.write_number(row, tail + 2, b)?;
            }
        }
        sheet.set_freeze_panes(2, 2)?;
    }
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Measure;
    use crate::store::ScoreLine;
    use crate::testing::dec as d;

    fn settings() -> Settings {
        let text = "[[shops]]\nid = \"sh\"\n\n[[people]]\nid = \"li\"\nname = \"Li\"\nrole = \"ops_specialist\"\n";
        let config = toml::from_str(text).unwrap();
        crate::settings::validate(config, std::path::Path::new("kpid.toml"), text).unwrap()
    }

    #[test]
    fn the_table_rounds_half_away_from_zero() {
        let s = settings();
        let card = StoredScorecard {
            person: "li".into(),
            period: crate::period::Period::parse_month("2026-10").unwrap(),
            revision: 1,
            role: "ops_specialist".into(),
            total: Some(d("12.505")),
            grade: Some("fail".into()),
            bonus: Some(d("0")),
            monthly_mean: None,
            reason: "computed".into(),
            computed_at: 0,
            lines: vec![ScoreLine {
                kpi: "gmv".into(),
                measure: Measure {
                    value: Some(d("1000.125")),
                    target: Some(d("8000")),
                    attainment: Some(d("0.00125")),
                },
                weight: d("0.125"),
                score: Some(d("12.505")),
            }],
        };
        let table = card_table(&s, &CardView::new(&s, &card));
        // Banker's rounding shows 1000.12, 0.12%, 0.12 and 12.50.
        assert!(table.contains("1000.13"), "{table}");
        assert!(table.contains("0.13%"), "{table}");
        assert!(table.contains(" 0.13 "), "{table}");
        assert!(table.contains("12.51"), "{table}");
        assert!(!table.contains("12.50"), "{table}");
        assert!(table.contains("Total 12.51"), "{table}");
    }

    #[test]
    fn card_table_columns_fit_the_widest_name_with_a_gap() {
        let text = "[[shops]]\nid = \"sh\"\n\n[[people]]\nid = \"li\"\nname = \"李雷\"\nrole = \"customer_service\"\n";
        let config: crate::config::Config = toml::from_str(text).unwrap();
        let settings =
            crate::settings::validate(config, std::path::Path::new("kpid.toml"), text).unwrap();
        let role = settings.role("customer_service").unwrap();
        let card = StoredScorecard {
            person: "li".into(),
            period: crate::period::Period::parse_any("2026-10").unwrap(),
            revision: 1,
            role: role.id.clone(),
            total: None,
            grade: None,
            bonus: None,
            monthly_mean: None,
            reason: "computed".into(),
            computed_at: 0,
            lines: role
                .kpis
                .iter()
                .map(|k| ScoreLine {
                    kpi: k.kpi.clone(),
                    measure: Measure {
                        value: Some(Decimal::ONE),
                        ..Measure::default()
                    },
                    weight: k.weight,
                    score: None,
                })
                .collect(),
        };
        let table = card_table(&settings, &CardView::new(&settings, &card));
        let row = table
            .lines()
            .find(|l| l.starts_with("cs_violations "))
            .unwrap_or_else(|| panic!("a row for cs_violations in\n{table}"));
        assert!(
            row.contains("服务态度(违规用语次数)  Banned-phrase violations"),
            "a gap after the longest Chinese name: {row}"
        );
        // The English names all start in the header's `name` column; CJK
        // characters count two terminal columns (East Asian Width "W").
        let columns = |s: &str| -> usize {
            s.chars()
                .map(|c| {
                    if ('\u{4E00}'..='\u{9FFF}').contains(&c) {
                        2
                    } else {
                        1
                    }
                })
                .sum()
        };
        let header = table.lines().find(|l| l.starts_with("KPI")).unwrap();
        let name_at = columns(&header[..header.find("name").unwrap()]);
        for l in &card.lines {
            let en = &settings.catalogue.get(&l.kpi).unwrap().name_en;
            let row = table
                .lines()
                .find(|r| r.starts_with(&format!("{} ", l.kpi)))
                .unwrap();
            assert_eq!(
                columns(&row[..row.find(en.as_str()).unwrap()]),
                name_at,
                "{row}"
            );
        }
    }
}
