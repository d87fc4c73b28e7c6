// The dashboard's pages. Each renders into `main` from /api/v1/ documents.
import { json, get, download } from "./api.js";
import { t, kpiName, kpiUnit, kpiSums } from "./i18n.js";
import * as fmt from "./format.js";

const esc = fmt.esc;
const TREND_KPIS = ["gmv", "orders", "conversion_rate", "aov", "refund_rate", "ad_roi"];
const charts = [];

window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

export function disposeCharts() {
  while (charts.length) charts.pop().dispose();
}

function table(head, rows, cls = "") {
  return `<div class="table-wrap"><table class="${cls}"><thead><tr>${head
    .map((h) => `<th>${esc(h)}</th>`)
    .join("")}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
}

function badge(state) {
  return `<span class="badge ${state}">${esc(t("state." + state))}</span>`;
}

function dayOfMonth(today) {
  const [y, m, d] = today.split("-").map(Number);
  const days = new Date(y, m, 0).getDate();
  return { d, days };
}

// met / on pace / behind / firing for one line of a running period.
function lineState(line, elapsed, firing) {
  if (firing) return "firing";
  if (line.attainment === null || line.target === null) return "none";
  if (line.attainment >= 1) return "met";
  if (elapsed !== null && kpiSums(line.id) && line.attainment >= elapsed) return "onpace";
  return "behind";
}

function liveRow(k, shop, elapsed, firingKpis) {
  const state = lineState(k, elapsed, firingKpis.has(k.id));
  return `<tr class="state-${state}">
      <td class="name">${esc(kpiName(k.id))}</td>
      <td class="num" data-kpi="${esc(k.id)}" data-value="${k.value ?? ""}">${esc(fmt.value(k.value, k.unit, shop.currency))}</td>
      <td class="num muted">${esc(fmt.value(k.target, k.unit, shop.currency))}</td>
      <td class="num">${esc(fmt.percent(k.attainment))}${bar(k.attainment)}</td>
      <td>${badge(state)}</td></tr>`;
}

// The trend KPIs first; the other KPIs with a target folded below them.
function liveCard(title, doc, shop, elapsed, firingKpis, cls) {
  const head = [t("kpi"), t("value"), t("target"), t("attainment"), t("state")];
  const main = TREND_KPIS.map((id) => doc.kpis.find((k) => k.id === id)).filter(Boolean);
  const rest = doc.kpis.filter((k) => !TREND_KPIS.includes(k.id) && k.target !== null);
  const behind = rest.filter((k) => ["behind", "firing"].includes(lineState(k, elapsed, firingKpis.has(k.id)))).length;
  const more = rest.length
    ? `<details class="more"><summary>${esc(t("more", { n: rest.length, b: behind }))}</summary>${table(
        head,
        rest.map((k) => liveRow(k, shop, elapsed, firingKpis)),
        "kpis"
      )}</details>`
    : "";
  return `<section class="card live ${cls}" data-period="${esc(doc.period)}">
    <h3>${esc(title)} <small>${esc(doc.period)}</small></h3>
    ${table(head, main.map((k) => liveRow(k, shop, elapsed, firingKpis)), "kpis")}${more}
  </section>`;
}

function rank(id) {
  const i = TREND_KPIS.indexOf(id);
  return i < 0 ? 100 : i;
}

function bar(a) {
  if (a === null || a === undefined) return "";
  const steps = Math.max(0, Math.min(10, Math.round(a * 10)));
  return `<span class="meter m${steps}" aria-hidden="true"></span>`;
}

function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

// Day snapshots carry no target when targets are set by month: a ratio's
// month target holds for each day, a sum's is shared over the month's days
// (labelled as such).
function drawTrend(el, points, id, shop, days, monthTarget) {
  const unit = kpiUnit(id);
  const shown = points.slice(-days).map((p) => {
    if (p.target !== null || monthTarget === null) return p;
    if (!kpiSums(id)) return { ...p, target: monthTarget };
    const { days: n } = dayOfMonth(p.day);
    return { ...p, target: monthTarget / n, shared: true };
  });
  const shared = shown.some((p) => p.shared);
  const chart = echarts.init(el, null, { renderer: "canvas" });
  charts.push(chart);
  const hasTarget = shown.some((p) => p.target !== null);
  chart.setOption({
    animation: false,
    grid: { left: 52, right: 12, top: 28, bottom: 24 },
    title: { text: kpiName(id), left: 0, top: 0, textStyle: { fontSize: 13, fontWeight: 600, color: "#24292f" } },
    tooltip: {
      trigger: "axis",
      formatter: (items) =>
        [esc(items[0].axisValue)]
          .concat(items.map((i) => `${esc(i.seriesName)}: ${esc(fmt.value(i.value, unit, shop.currency))}`))
          .join("<br>"),
    },
    xAxis: { type: "category", data: shown.map((p) => p.day.slice(5)), axisLabel: { color: "#57606a" } },
    yAxis: {
      type: "value",
      scale: unit !== "money" && unit !== "count",
      axisLabel: { color: "#57606a", formatter: (v) => (unit === "percent" ? fmt.percent(v) : fmt.compact(v)) },
      splitLine: { lineStyle: { color: "#eaeef2" } },
    },
    series: [
      {
        name: kpiName(id), type: "line", showSymbol: days <= 30, symbolSize: 4,
        data: shown.map((p) => p.value), connectNulls: false,
        lineStyle: { width: 2, color: "#1f6feb" }, itemStyle: { color: "#1f6feb" },
        areaStyle: { color: "rgba(31,111,235,0.08)" },
      },
    ].concat(
      hasTarget
        ? [{
            name: t(shared ? "target.daily" : "target.line"), type: "line", showSymbol: false, step: "middle",
            data: shown.map((p) => p.target),
            lineStyle: { width: 1.5, type: "dashed", color: "#bf3989" }, itemStyle: { color: "#bf3989" },
          }]
        : []
    ),
  });
}

export async function overview(main) {
  const shops = await json("/api/v1/shops");
  const alerts = await json("/api/v1/alerts").catch(() => []);
  if (!shops.length) {
    main.innerHTML = `<p class="empty">${esc(t("none"))}</p>`;
    return;
  }
  main.innerHTML = shops
    .map(
      (s) => `<article class="shop" id="shop-${esc(s.id)}">
        <header class="shop-head"><h2>${esc(s.id)}</h2>
          <span class="meta">${esc(t("tz"))} ${esc(s.timezone)} · ${esc(t("currency"))} ${esc(s.currency)} · ${esc(t("as.of"))} ${esc(s.today)}</span>
          <span class="range" role="group"><button data-days="30" class="on">30 ${esc(t("days"))}</button><button data-days="90">90 ${esc(t("days"))}</button></span>
        </header>
        <div class="live-row"><p class="loading">${esc(t("loading"))}</p></div>
        <div class="trends">${TREND_KPIS.map((k) => `<div class="chart" data-kpi="${k}"></div>`).join("")}</div>
      </article>`
    )
    .join("");
  await Promise.all(
    shops.map(async (shop) => {
      const root = document.getElementById(`shop-${shop.id}`);
      const firingIn = (period) =>
        new Set(alerts.filter((a) => a.state === "firing" && a.shop === shop.id && a.period === period).map((a) => a.kpi));
      const live = await json(`/api/v1/live?shop=${encodeURIComponent(shop.id)}`);
      const { d, days } = dayOfMonth(shop.today);
      // The month's share elapsed by the end of today.
      const elapsed = d / days;
      root.querySelector(".live-row").innerHTML =
        liveCard(t("today"), live.today, shop, null, firingIn("today"), "today") +
        liveCard(`${t("month")} · ${t("elapsed", { p: fmt.percent(elapsed) })}`, live.month, shop, elapsed, firingIn("month"), "month");
      // Complete days only: today is the card above.
      const to = addDays(shop.today, -1);
      const from = addDays(to, -89);
      const monthTarget = (id) => live.month.kpis.find((k) => k.id === id)?.target ?? null;
      const series = await Promise.all(
        TREND_KPIS.map((k) =>
          json(`/api/v1/series?shop=${encodeURIComponent(shop.id)}&kpi=${k}&from=${from}&to=${to}`)
        )
      );
      const draw = (n) => {
        root.querySelectorAll(".chart").forEach((el, i) => {
          const old = echarts.getInstanceByDom(el);
          if (old) {
            charts.splice(charts.indexOf(old), 1);
            old.dispose();
          }
          drawTrend(el, series[i], TREND_KPIS[i], shop, n, monthTarget(TREND_KPIS[i]));
        });
      };
      draw(30);
      root.querySelectorAll(".range button").forEach((b) =>
        b.addEventListener("click", () => {
          root.querySelectorAll(".range button").forEach((x) => x.classList.toggle("on", x === b));
          draw(Number(b.dataset.days));
        })
      );
    })
  );
  document.body.dataset.ready = "overview";
}

function periodInput(kind, value) {
  const type = { day: "date", month: "month", year: "number" }[kind];
  const extra = kind === "year" ? ' min="2000" max="2100" step="1"' : "";
  return `<input id="period" type="${type}" value="${esc(value)}"${extra} required>`;
}

function defaultPeriod(kind, shops) {
  const today = shops[0]?.today || new Date().toISOString().slice(0, 10);
  const yesterday = addDays(today, -1);
  return { day: yesterday, month: yesterday.slice(0, 7), year: yesterday.slice(0, 4) }[kind];
}

function downloads(kind) {
  return `<span class="downloads">${esc(t("download"))}: <button data-format="csv" class="link">CSV</button> <button data-format="xlsx" class="link">XLSX</button></span>`;
}

function bindDownloads(root, path, name) {
  root.querySelectorAll("[data-format]").forEach((b) =>
    b.addEventListener("click", () =>
      download(`${path}&format=${b.dataset.format}`, `${name}.${b.dataset.format}`).catch((e) => alert(e.message))
    )
  );
}

export async function snapshots(main) {
  const shops = await json("/api/v1/shops");
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const kind = q.get("kind") || "month";
  const period = q.get("period") || defaultPeriod(kind, shops);
  const shop = q.get("shop") || shops[0]?.id || "";
  const revision = q.get("revision") || "";
  main.innerHTML = `<section class="card">
    <form id="snap-form" class="controls">
      <label>${esc(t("shop"))} <select id="shop">${shops
        .map((s) => `<option ${s.id === shop ? "selected" : ""}>${esc(s.id)}</option>`)
        .join("")}<option value="" ${shop === "" ? "selected" : ""}>${esc(t("all.shops"))}</option></select></label>
      <label>${esc(t("period"))} <select id="kind">${["day", "month", "year"]
        .map((k) => `<option value="${k}" ${k === kind ? "selected" : ""}>${esc(t(k === "month" ? "month.kind" : k))}</option>`)
        .join("")}</select></label>
      ${periodInput(kind, period)}
      <label>${esc(t("revision"))} <input id="revision" type="number" min="1" placeholder="${esc(t("latest"))}" value="${esc(revision)}"></label>
      <button type="submit">${esc(t("show"))}</button>
    </form></section><div id="snap-out"></div>`;
  const form = document.getElementById("snap-form");
  document.getElementById("kind").addEventListener("change", (e) => {
    const k = e.target.value;
    location.hash = `#snapshots?kind=${k}&shop=${encodeURIComponent(form.shop.value)}&period=${defaultPeriod(k, shops)}`;
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams({ kind: form.kind.value, shop: form.shop.value, period: form.period.value });
    if (form.revision.value) p.set("revision", form.revision.value);
    location.hash = `#snapshots?${p}`;
  });
  const out = document.getElementById("snap-out");
  const params = new URLSearchParams({ period });
  if (shop) params.set("shop", shop);
  if (revision) params.set("revision", revision);
  try {
    const doc = await json(`/api/v1/snapshots?${params}`);
    const list = Array.isArray(doc) ? doc : [doc];
    out.innerHTML = list
      .map((s) => {
        const currency = shops.find((x) => x.id === s.shop)?.currency;
        const revs = Array.from({ length: s.revision }, (_, i) => i + 1)
          .map((r) => `<a href="#snapshots?kind=${kind}&shop=${encodeURIComponent(s.shop)}&period=${s.period}&revision=${r}" class="${r === s.revision ? "on" : ""}">r${r}</a>`)
          .join(" ");
        return `<section class="card"><h3>${esc(s.shop)} · ${esc(s.period)} <small>${esc(t("revision"))} ${s.revision}</small></h3>
          <p class="revs">${esc(t("revision"))}: ${revs} ${downloads()}</p>
          ${table(
            [t("kpi"), "ID", t("value"), t("target"), t("attainment"), t("score")],
            s.kpis.map(
              (k) => `<tr><td class="name">${esc(kpiName(k.id))}</td><td class="muted mono">${esc(k.id)}</td>
                <td class="num">${esc(fmt.value(k.value, k.unit, currency))}</td>
                <td class="num muted">${esc(fmt.value(k.target, k.unit, currency))}</td>
                <td class="num">${esc(fmt.percent(k.attainment))}</td>
                <td class="num">${esc(fmt.value(k.score, "score"))}</td></tr>`
            ),
            "kpis"
          )}</section>`;
      })
      .join("");
    bindDownloads(out, `/api/v1/snapshots?${params}`, `kpid-${shop || "shops"}-${period}`);
  } catch (e) {
    out.innerHTML = `<p class="error">${esc(e.message)}</p>`;
  }
  document.body.dataset.ready = "snapshots";
}

const GRADE_CLASS = { S: "g-s", A: "g-a", B: "g-b", C: "g-c", D: "g-d", excellent: "g-a", good: "g-b", pass: "g-c", fail: "g-d" };

export async function scorecards(main) {
  const shops = await json("/api/v1/shops");
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const period = q.get("period") || defaultPeriod("month", shops);
  main.innerHTML = `<section class="card"><form id="sc-form" class="controls">
      <label>${esc(t("period"))} <input id="period" type="month" value="${esc(period)}" required></label>
      <button type="submit">${esc(t("show"))}</button></form></section><div id="sc-out"></div>`;
  document.getElementById("sc-form").addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = `#scorecards?period=${e.target.period.value}`;
  });
  const out = document.getElementById("sc-out");
  try {
    const cards = await json(`/api/v1/scorecards?period=${encodeURIComponent(period)}`);
    const rows = cards.map(
      (c) => `<tr><td class="name">${esc(c.person)}</td><td>${esc(c.role)}</td>
        <td class="num strong">${esc(fmt.value(c.total, "score"))}</td>
        <td><span class="grade ${GRADE_CLASS[c.grade] || ""}">${esc(c.grade || "–")}</span></td>
        <td class="num">${esc(fmt.value(c.bonus_coefficient, "ratio"))}</td>
        <td>${c.revision > 1 ? `r${c.revision} · ${esc(t("appeal"))}` : `r${c.revision}`}</td>
        <td><details><summary>${c.kpis.length} ${esc(t("kpi"))}</summary>${table(
          [t("kpi"), t("value"), t("target"), t("attainment"), t("weight"), t("score")],
          c.kpis.map(
            (k) => `<tr><td>${esc(kpiName(k.id))}</td><td class="num">${esc(fmt.value(k.value, kpiUnit(k.id)))}</td>
              <td class="num muted">${esc(fmt.value(k.target, kpiUnit(k.id)))}</td><td class="num">${esc(fmt.percent(k.attainment))}</td>
              <td class="num">${esc(fmt.value(k.weight, "ratio"))}</td><td class="num">${esc(fmt.value(k.score, "score"))}</td></tr>`
          ),
          "inner"
        )}${c.missing.length ? `<p class="muted">${esc(t("missing"))}: ${c.missing.map(esc).join(", ")}</p>` : ""}</details></td></tr>`
    );
    out.innerHTML = `<section class="card"><h3>${esc(period)} ${downloads()}</h3>${table(
      [t("person"), t("role"), t("total"), t("grade"), t("bonus"), t("revision"), t("kpi")],
      rows,
      "cards"
    )}</section>`;
    const appeals = await json(`/api/v1/appeals?month=${encodeURIComponent(period)}`).catch(() => []);
    out.insertAdjacentHTML(
      "beforeend",
      `<section class="card"><h3>${esc(t("appeals"))}</h3>${
        appeals.length
          ? table(
              [t("person"), t("created"), t("status"), t("revision"), t("comment")],
              appeals.map(
                (a) => `<tr><td class="name">${esc(a.person)}</td><td>${esc(a.opened_on)}</td>
                  <td><span class="badge ${a.status === "accepted" ? "met" : a.status === "rejected" ? "firing" : "behind"}">${esc(a.status)}</span></td>
                  <td>r${a.revision_before}${a.revision_after ? ` → r${a.revision_after}` : ""}</td>
                  <td>${esc(a.reason)}${a.note ? ` — ${esc(a.resolved_by || "")}: ${esc(a.note)}` : ""}</td></tr>`
              )
            )
          : `<p class="empty">${esc(t("none"))}</p>`
      }</section>`
    );
    bindDownloads(out, `/api/v1/scorecards?period=${encodeURIComponent(period)}`, `kpid-scorecards-${period}`);
  } catch (e) {
    out.innerHTML = `<p class="error">${esc(e.message)}</p>`;
  }
  document.body.dataset.ready = "scorecards";
}

export async function alertsPage(main) {
  const [alerts, history, silences] = await Promise.all([
    json("/api/v1/alerts"),
    json("/api/v1/alerts/history?limit=50"),
    json("/api/v1/silences"),
  ]);
  const order = { firing: 0, pending: 1, resolved: 2 };
  alerts.sort((a, b) => (order[a.state] ?? 3) - (order[b.state] ?? 3));
  main.innerHTML = `<section class="card"><h3>${esc(t("alerts.firing"))}</h3>${
    alerts.length
      ? table(
          [t("state"), t("scope"), t("rule"), t("kpi"), t("period"), t("value"), t("threshold"), t("attainment"), t("since")],
          alerts.map((a) => {
            const [value, threshold] = fmt.valueAndThreshold(a.value, a.threshold, kpiUnit(a.kpi));
            // Held against 100 %: a breach at 99.96 % does not read "100.0%".
            const [attainment] = fmt.valueAndThreshold(a.attainment, 1, "percent");
            return `<tr data-alert-state="${esc(a.state)}"><td><span class="badge ${a.state === "firing" ? "firing" : a.state === "pending" ? "behind" : "met"}">${esc(a.state)}</span></td>
              <td>${esc(a.shop || a.person)}</td><td>${esc(a.rule)}</td><td>${esc(kpiName(a.kpi))}</td><td>${esc(a.period_label)}</td>
              <td class="num alert-value">${esc(value)}</td><td class="num alert-threshold">${esc(threshold)}</td>
              <td class="num">${esc(attainment)}</td><td>${esc(fmt.time(a.since))}</td></tr>`;
          })
        )
      : `<p class="empty">${esc(t("no.alerts"))}</p>`
  }</section>
  <section class="card"><h3>${esc(t("silences"))}</h3>${
    silences.length
      ? table(
          [t("matchers"), t("ends"), t("comment")],
          silences.map(
            (s) => `<tr><td class="mono">${s.matchers.map((m) => esc(`${m.label}=${m.value}`)).join(", ")}</td><td>${esc(fmt.time(s.ends_at))}</td><td>${esc(s.comment)}</td></tr>`
          )
        )
      : `<p class="empty">${esc(t("none"))}</p>`
  }</section>
  <section class="card"><h3>${esc(t("alerts.history"))}</h3>${
    history.length
      ? table(
          [t("created"), t("channel"), t("kind"), t("scope"), t("status")],
          history.map(
            (h) => `<tr><td>${esc(fmt.time(h.created_at))}</td><td>${esc(h.channel)}</td><td>${esc(h.kind)}</td><td>${esc(h.scope)}</td>
              <td><span class="badge ${h.status === "sent" ? "met" : h.status === "failed" ? "firing" : "none"}">${esc(h.status)}</span> ${esc(h.error || "")}</td></tr>`
          )
        )
      : `<p class="empty">${esc(t("none"))}</p>`
  }</section>`;
  document.body.dataset.ready = "alerts";
}

export async function connectors(main) {
  const jobs = await json("/api/v1/connectors");
  main.innerHTML = `<section class="card"><h3>${esc(t("nav.connectors"))}</h3>${table(
    [t("job"), t("kind"), t("schedule"), t("last.run"), t("status"), t("records"), t("rejects"), t("last.success"), t("failures"), t("next.run")],
    jobs.map((j) => {
      const r = j.last_run;
      const cls = !r ? "none" : r.status === "ok" ? "met" : r.status === "failed" ? "firing" : "behind";
      return `<tr><td class="name mono">${esc(j.job)}</td><td>${esc(j.kind)}</td><td class="mono">${esc(j.schedule || "–")}</td>
        <td>${esc(fmt.time(r?.started_at))}</td><td><span class="badge ${cls}">${esc(r?.status || "–")}</span>${r?.error ? `<div class="error small">${esc(r.error)}</div>` : ""}</td>
        <td class="num">${esc(fmt.value(r?.records ?? null, "count"))}</td><td class="num ${r?.rejects ? "warn" : ""}">${esc(fmt.value(r?.rejects ?? null, "count"))}</td>
        <td>${esc(fmt.time(j.last_success))}</td><td class="num ${j.failures ? "warn" : ""}">${j.failures} / ${j.recent_runs}</td><td>${esc(fmt.time(j.next_run))}</td></tr>`;
    }),
    "jobs"
  )}</section>`;
  document.body.dataset.ready = "connectors";
}
