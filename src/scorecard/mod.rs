//! Scorecards: each assessed person's KPIs of their role, from the data of
//! their scope, against their targets, weighted into a total with a grade
//! and a bonus coefficient (the scheme's articles 3 and 4).
//!
//! A KPI line scores 100 × min(attainment, cap); a KPI without a value or a
//! target is listed as missing and left out of the weighted total, never
//! scored 0. Months are closed (frozen) once assessed; an accepted appeal
//! writes a new revision and every revision stays readable.

pub mod export;
pub mod imports;
pub mod scope;
pub mod workdays;

use crate::ids::ShopId;
use crate::kpi::catalogue::{input_def, Aggregation};
use crate::kpi::{round_value, FactsCache, InputValues};
use crate::measure::Measure;
use crate::period::{LocalDay, Period};
use crate::scoring::scored;
use crate::settings::Settings;
use crate::store::{ManualInput, ScoreLine, Store, StoreError, StoredScorecard};
use crate::targets::roles::{Person, Role};
use crate::targets::TargetBook;
use rust_decimal::Decimal;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum ScorecardError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no person `{0}` in [[people]]")]
    UnknownPerson(String),
    #[error("no role `{0}` (see [[roles]] and the built-in roles)")]
    UnknownRole(String),
    #[error("{0} is not a month (use --month YYYY-MM)")]
    NotAMonth(Period),
    #[error("{month} was already closed on {on} by {by}")]
    AlreadyClosed {
        month: Period,
        on: LocalDay,
        by: String,
    },
    #[error("{month} is not over yet (its last day is {last})")]
    NotOver { month: Period, last: LocalDay },
    #[error(
        "{0} is not closed: appeals are taken against a closed month (`kpid close --month {0}`)"
    )]
    NotClosed(Period),
    #[error(
        "the appeal period for {month} ended on {deadline} ({days} working days after the close on {closed_on}); this appeal is late"
    )]
    Late {
        month: Period,
        deadline: LocalDay,
        days: u32,
        closed_on: LocalDay,
    },
    #[error("{person} has no scorecard for {month}")]
    NoScorecard { person: String, month: Period },
    #[error("no appeal #{0}")]
    NoAppeal(i64),
    #[error("appeal #{id} is already {status}")]
    AppealDone { id: i64, status: String },
    #[error("`{kpi}` is not a KPI of role `{role}`")]
    NotInRole { kpi: String, role: String },
}

type Result<T, E = ScorecardError> = std::result::Result<T, E>;

/// Sets the manual inputs of `period`. A year without a yearly entry folds
/// its months' entries the way the input folds days (mean of survey scores,
/// sum of counts).
pub fn apply_manual(values: &mut InputValues, manual: &[ManualInput], period: Period) {
    let key = period.to_string();
    let mut months: HashMap<&str, Vec<(&str, Decimal)>> = HashMap::new();
    for m in manual {
        if m.period == key {
            values.set(&m.input, m.value);
        } else if let Period::Year(y) = period {
            if m.period.len() == 7 && m.period.starts_with(&format!("{y:04}-")) {
                months
                    .entry(m.input.as_str())
                    .or_default()
                    .push((m.period.as_str(), m.value));
            }
        }
    }
    for (input, mut vals) in months {
        if manual.iter().any(|m| m.input == input && m.period == key) {
            continue;
        }
        vals.sort();
        let sum: Decimal = vals.iter().map(|(_, v)| *v).sum();
        let v = match input_def(input).map(|d| d.aggregation) {
            Some(Aggregation::Mean) => round_value(sum / Decimal::from(vals.len() as i64)),
            Some(Aggregation::Latest) => vals.last().map(|(_, v)| *v).unwrap_or_default(),
            _ => sum,
        };
        values.set(input, v);
    }
}

/// Each line's weight in the total: the role's weight, or for a
/// category-weighted role the category's weight shared among its KPIs that
/// have a score, in proportion to their own weights.
fn weigh(role: &Role, settings: &Settings, lines: &mut [ScoreLine]) {
    if role.category_weights.is_empty() {
        for (l, k) in lines.iter_mut().zip(&role.kpis) {
            l.weight = k.weight;
        }
        return;
    }
    let category = |kpi: &str| {
        settings
            .catalogue
            .get(kpi)
            .map(|s| s.category.clone())
            .unwrap_or_default()
    };
    let cats: Vec<String> = role.kpis.iter().map(|k| category(&k.kpi)).collect();
    for (cat, cw) in &role.category_weights {
        let members: Vec<usize> = (0..lines.len()).filter(|i| &cats[*i] == cat).collect();
        let scored: Vec<usize> = members
            .iter()
            .copied()
            .filter(|i| lines[*i].score.is_some())
            .collect();
        // With nothing scored the weights shown are the nominal shares.
        let share_of = if scored.is_empty() { &members } else { &scored };
        let denom: Decimal = share_of.iter().map(|i| role.kpis[*i].weight).sum();
        for i in members {
            lines[i].weight = if denom.is_zero() {
                Decimal::ZERO
            } else {
                round_value(*cw * role.kpis[i].weight / denom)
            };
        }
    }
}

/// Σ weight × score / Σ weight over the lines that have a score.
pub fn weighted_total(lines: &[ScoreLine]) -> Option<Decimal> {
    let scored: Vec<&ScoreLine> = lines.iter().filter(|l| l.score.is_some()).collect();
    let weights: Decimal = scored.iter().map(|l| l.weight).sum();
    if weights.is_zero() {
        return None;
    }
    let sum: Decimal = scored
        .iter()
        .map(|l| l.weight * l.score.unwrap_or_default())
        .sum();
    Some(round_value(sum / weights))
}

/// The facts a period's scorecards read, for many people at once: each
/// period the KPIs look back to (`prev`), over the shops of all of them,
/// and everyone's manual inputs.
pub struct CardFacts {
    backs: Vec<scope::ScopeFacts>,
    manual: HashMap<String, Vec<ManualInput>>,
    /// A year's closed months, whose totals a yearly card averages.
    closed_months: Vec<Period>,
}

impl CardFacts {
    /// Reads the facts of `people`'s shops for `period` and the periods
    /// before it that the catalogue looks back to.
    pub async fn load(
        settings: &Settings,
        store: &Store,
        facts: &FactsCache,
        people: &[&Person],
        period: Period,
    ) -> Result<Self> {
        let mut shops: Vec<ShopId> = people.iter().flat_map(|p| p.shops.clone()).collect();
        shops.sort();
        shops.dedup();
        let mut backs = Vec::new();
        for back in 0..=settings.catalogue.prev_depth() {
            let p = period.back(back);
            backs.push(scope::ScopeFacts::load(settings, store, facts, &shops, p.days()).await?);
        }
        let mut manual: HashMap<String, Vec<ManualInput>> = HashMap::new();
        let all = if people.len() == 1 {
            store.manual_inputs(Some(&people[0].id)).await?
        } else {
            store.manual_inputs(None).await?
        };
        for m in all {
            manual.entry(m.person.clone()).or_default().push(m);
        }
        let closed_months = match period {
            Period::Year(y) => store.closed_months(y).await?,
            _ => Vec::new(),
        };
        Ok(CardFacts {
            backs,
            manual,
            closed_months,
        })
    }
}

/// Computes (does not store) a person's scorecard for a period.
pub async fn compute_card(
    settings: &Settings,
    store: &Store,
    book: &TargetBook,
    person: &Person,
    period: Period,
    reason: &str,
) -> Result<StoredScorecard> {
    let facts = CardFacts::load(settings, store, &FactsCache::default(), &[person], period).await?;
    card_from(settings, store, book, &facts, person, period, reason).await
}

/// A person's scorecard from facts read beforehand: the one way cards are
/// made, whether for one person or all.
async fn card_from(
    settings: &Settings,
    store: &Store,
    book: &TargetBook,
    facts: &CardFacts,
    person: &Person,
    period: Period,
    reason: &str,
) -> Result<StoredScorecard> {
    let role = settings
        .role(&person.role)
        .ok_or_else(|| ScorecardError::UnknownRole(person.role.clone()))?;
    let manual = facts
        .manual
        .get(&person.id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut inputs = Vec::new();
    for (back, shops) in facts.backs.iter().enumerate() {
        let p = period.back(back);
        let mut v = scope::person_values(settings, store, shops, person, p).await?;
        apply_manual(&mut v, manual, p);
        inputs.push(v);
    }
    let scopes = person.target_scopes();
    let target_back = |kpi: &str, back: usize| book.lookup(kpi, period.back(back), &scopes);
    let target = |kpi: &str| target_back(kpi, 0);
    // Appeal adjustments never enter here: appeals are taken only against
    // closed months, which are not recomputed (see `refresh` and `rescore`).
    let values: HashMap<String, Option<Decimal>> = settings
        .catalogue
        .evaluate(&inputs, &target_back)
        .into_iter()
        .collect();
    let mut lines: Vec<ScoreLine> = role
        .kpis
        .iter()
        .map(|k| {
            let value = values.get(k.kpi.as_str()).copied().flatten();
            let target = target(&k.kpi);
            let (measure, score) = attained(settings, &k.kpi, value, target);
            ScoreLine {
                kpi: k.kpi.clone(),
                measure,
                weight: k.weight,
                score,
            }
        })
        .collect();
    weigh(role, settings, &mut lines);
    let total = weighted_total(&lines);
    let grade = total.map(|t| settings.scoring.grade(t));
    let monthly_mean = match period {
        Period::Year(_) => monthly_mean(store, &person.id, &facts.closed_months).await?,
        _ => None,
    };
    Ok(StoredScorecard {
        person: person.id.clone(),
        period,
        revision: 0,
        role: role.id.clone(),
        total,
        grade: grade.map(|g| g.id.clone()),
        bonus: grade.map(|g| g.bonus),
        monthly_mean,
        reason: reason.to_string(),
        computed_at: 0,
        lines,
    })
}

/// A line's measure and score from its value and target: no attainment
/// or score without both, nor for a KPI the catalogue does not hold.
fn attained(
    settings: &Settings,
    kpi: &str,
    value: Option<Decimal>,
    target: Option<Decimal>,
) -> (Measure, Option<Decimal>) {
    match settings.catalogue.get(kpi) {
        Some(spec) => scored(spec, value, target, settings.scoring.cap),
        None => (
            Measure {
                value,
                target,
                attainment: None,
            },
            None,
        ),
    }
}

/// A scorecard with some KPI values replaced, each line's attainment and
/// score and the total, grade and bonus worked out again.
pub fn rescore(
    settings: &Settings,
    card: &StoredScorecard,
    sets: &[(String, Decimal)],
) -> StoredScorecard {
    let mut out = card.clone();
    for line in &mut out.lines {
        let Some((_, v)) = sets.iter().rev().find(|(k, _)| line.kpi == *k) else {
            continue;
        };
        (line.measure, line.score) = attained(settings, &line.kpi, Some(*v), line.measure.target);
    }
    if let Some(role) = settings.role(&card.role) {
        if role.kpis.len() == out.lines.len() {
            weigh(role, settings, &mut out.lines);
        }
    }
    out.total = weighted_total(&out.lines);
    let grade = out.total.map(|t| settings.scoring.grade(t));
    out.grade = grade.map(|g| g.id.clone());
    out.bonus = grade.map(|g| g.bonus);
    out
}

/// The mean of the year's closed monthly totals (latest revisions).
async fn monthly_mean(store: &Store, person: &str, closed: &[Period]) -> Result<Option<Decimal>> {
    let mut totals = Vec::new();
    for month in closed {
        if let Some(t) = store
            .scorecard(person, *month, None)
            .await?
            .and_then(|c| c.total)
        {
            totals.push(t);
        }
    }
    if totals.is_empty() {
        return Ok(None);
    }
    let n = Decimal::from(totals.len() as i64);
    Ok(Some(round_value(totals.iter().sum::<Decimal>() / n)))
}

/// What refreshing one scorecard did.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub card: StoredScorecard,
    pub new_revision: bool,
    /// The month is closed: nothing was computed.
    pub frozen: bool,
}

/// Recomputes a person's scorecard and stores a revision when it changed;
/// a closed month is left as it is. The one-person case of [`refresh_people`].
pub async fn refresh(
    settings: &Settings,
    store: &Store,
    book: &TargetBook,
    person: &Person,
    period: Period,
) -> Result<Option<Refreshed>> {
    Ok(refresh_people(
        settings,
        store,
        &FactsCache::default(),
        book,
        &[person],
        period,
    )
    .await?
    .pop())
}

/// Recomputes the scorecards of `people` for a period from facts read once
/// for all of them, or taken from those the pass has read (see
/// [`CardFacts`]); a closed month is left as it is.
pub async fn refresh_people(
    settings: &Settings,
    store: &Store,
    facts: &FactsCache,
    book: &TargetBook,
    people: &[&Person],
    period: Period,
) -> Result<Vec<Refreshed>> {
    let mut out = Vec::with_capacity(people.len());
    if people.is_empty() {
        return Ok(out);
    }
    if let Period::Month { .. } = period {
        if store.month_close(period).await?.is_some() {
            for person in people {
                if let Some(card) = store.scorecard(&person.id, period, None).await? {
                    out.push(Refreshed {
                        card,
                        new_revision: false,
                        frozen: true,
                    });
                }
            }
            return Ok(out);
        }
    }
    let facts = CardFacts::load(settings, store, facts, people, period).await?;
    let mut cards = Vec::with_capacity(people.len());
    for person in people {
        cards.push(card_from(settings, store, book, &facts, person, period, "computed").await?);
    }
    let written = store.write_scorecards(period, &cards).await?;
    for (mut card, (revision, new_revision)) in cards.into_iter().zip(written) {
        card.revision = revision;
        if new_revision {
            tracing::info!(person = %card.person, period = %period, revision, "scorecard revision written");
        }
        out.push(Refreshed {
            card,
            new_revision,
            frozen: false,
        });
    }
    Ok(out)
}

/// Refreshes the scorecards of every person (or those covering `shop`).
pub async fn refresh_all(
    settings: &Settings,
    store: &Store,
    facts: &FactsCache,
    period: Period,
    shop: Option<&str>,
) -> Result<Vec<Refreshed>> {
    let book = TargetBook::load(&settings.targets, store).await?;
    let people: Vec<&Person> = settings
        .people
        .iter()
        .filter(|p| shop.is_none_or(|s| p.shops.iter().any(|x| x == s)))
        .collect();
    refresh_people(settings, store, facts, &book, &people, period).await
}

/// The months a nightly run refreshes scorecards for, from the shop
/// snapshot periods: months and years only (days are not assessed).
pub fn nightly_scorecard_periods(periods: &[Period]) -> Vec<Period> {
    periods
        .iter()
        .copied()
        .filter(|p| !matches!(p, Period::Day(_)))
        .collect()
}

/// `kpid close`: computes the month's final scorecards and freezes them.
pub async fn close_month(
    settings: &Settings,
    store: &Store,
    month: Period,
    by: &str,
    today: LocalDay,
) -> Result<Vec<Refreshed>> {
    if !matches!(month, Period::Month { .. }) {
        return Err(ScorecardError::NotAMonth(month));
    }
    if let Some(c) = store.month_close(month).await? {
        return Err(ScorecardError::AlreadyClosed {
            month,
            on: c.closed_on,
            by: c.closed_by,
        });
    }
    if today <= month.last_day() {
        return Err(ScorecardError::NotOver {
            month,
            last: month.last_day(),
        });
    }
    let cards = refresh_all(settings, store, &FactsCache::default(), month, None).await?;
    if !store.close_month(month, today, by).await? {
        let c = store.month_close(month).await?.expect("closed meanwhile");
        return Err(ScorecardError::AlreadyClosed {
            month,
            on: c.closed_on,
            by: c.closed_by,
        });
    }
    tracing::info!(month = %month, by, people = cards.len(), "month closed");
    Ok(cards)
}

/// Months before `today`'s that have scorecards, are not closed and are
/// past the scheme's closing deadline, with that deadline.
pub async fn overdue_months(
    settings: &Settings,
    store: &Store,
    today: LocalDay,
) -> Result<Vec<(Period, LocalDay)>> {
    let mut out = Vec::new();
    let mut month = Period::month_of(today).previous();
    for _ in 0..12 {
        let due = workdays::close_due(
            month,
            settings.scoring.close_working_days,
            &settings.scoring.holidays,
        );
        if today > due
            && store.month_close(month).await?.is_none()
            && !store.scorecard_people(month).await?.is_empty()
        {
            out.push((month, due));
        }
        month = month.previous();
    }
    Ok(out)
}

/// `kpid appeal open`: refused when the month is not closed or the appeal
/// period (working days after the close) is over.
pub async fn open_appeal(
    settings: &Settings,
    store: &Store,
    person: &str,
    month: Period,
    reason: &str,
    today: LocalDay,
) -> Result<i64> {
    settings
        .person(person)
        .ok_or_else(|| ScorecardError::UnknownPerson(person.into()))?;
    if !matches!(month, Period::Month { .. }) {
        return Err(ScorecardError::NotAMonth(month));
    }
    let close = store
        .month_close(month)
        .await?
        .ok_or(ScorecardError::NotClosed(month))?;
    let days = settings.scoring.appeal_working_days;
    let deadline = workdays::add_working_days(close.closed_on, days, &settings.scoring.holidays);
    if today > deadline {
        return Err(ScorecardError::Late {
            month,
            deadline,
            days,
            closed_on: close.closed_on,
        });
    }
    let card =
        store
            .scorecard(person, month, None)
            .await?
            .ok_or_else(|| ScorecardError::NoScorecard {
                person: person.into(),
                month,
            })?;
    Ok(store
        .open_appeal(person, month, reason, today, card.revision)
        .await?)
}

/// How an appeal ended.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub accepted: bool,
    /// The revision an accepted appeal wrote.
    pub card: Option<StoredScorecard>,
}

/// `kpid appeal resolve`: a rejection records the decision; an acceptance
/// records the KPI values it sets and writes a new revision of the
/// scorecard: the closed revision re-scored with the corrected values.
pub async fn resolve_appeal(
    settings: &Settings,
    store: &Store,
    id: i64,
    accept: bool,
    sets: &[(String, Decimal)],
    by: &str,
    note: &str,
) -> Result<Resolution> {
    let appeal = store
        .appeal(id)
        .await?
        .ok_or(ScorecardError::NoAppeal(id))?;
    if appeal.status != "open" {
        return Err(ScorecardError::AppealDone {
            id,
            status: appeal.status,
        });
    }
    let person = settings
        .person(&appeal.person)
        .ok_or_else(|| ScorecardError::UnknownPerson(appeal.person.clone()))?;
    if !accept {
        if !store.resolve_appeal(id, "rejected", by, note, None).await? {
            return Err(ScorecardError::AppealDone {
                id,
                status: "resolved".into(),
            });
        }
        return Ok(Resolution {
            accepted: false,
            card: None,
        });
    }
    let current = store
        .scorecard(&person.id, appeal.period, None)
        .await?
        .ok_or_else(|| ScorecardError::NoScorecard {
            person: person.id.clone(),
            month: appeal.period,
        })?;
    let mut adjustments = Vec::new();
    for (kpi, value) in sets {
        let line = current
            .lines
            .iter()
            .find(|l| &l.kpi == kpi)
            .ok_or_else(|| ScorecardError::NotInRole {
                kpi: kpi.clone(),
                role: current.role.clone(),
            })?;
        adjustments.push((kpi.clone(), line.measure.value, *value));
    }
    store.add_adjustments(id, &adjustments).await?;
    if !store.resolve_appeal(id, "accepted", by, note, None).await? {
        return Err(ScorecardError::AppealDone {
            id,
            status: "resolved".into(),
        });
    }
    // The closed revision with the appealed values re-scored: data that
    // arrived after the close does not ride in on an appeal.
    let mut card = rescore(settings, &current, sets);
    card.reason = format!("appeal #{id}: {note}");
    let (revision, _) = store.write_scorecard(&card, true).await?;
    card.revision = revision;
    store.set_appeal_revision(id, revision).await?;
    tracing::info!(appeal = id, person = %person.id, month = %appeal.period, revision, by, "appeal accepted");
    Ok(Resolution {
        accepted: true,
        card: Some(card),
    })
}
