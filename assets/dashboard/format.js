// Numbers for people: thousands separators, money to 2 places, percentages.
import { lang } from "./i18n.js";

const locale = lang === "zh" ? "zh-CN" : "en-US";
const cache = new Map();
function nf(opts) {
  const key = JSON.stringify(opts);
  if (!cache.has(key)) cache.set(key, new Intl.NumberFormat(locale, opts));
  return cache.get(key);
}

// The API sends exact decimals as JSON numbers; display rounds them.
export function value(v, unit, currency) {
  if (v === null || v === undefined) return "–";
  switch (unit) {
    case "money":
      return currency
        ? nf({ style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v)
        : nf({ minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
    case "count":
    case "rank":
      return nf({ maximumFractionDigits: 0 }).format(v);
    case "percent":
      return percent(v);
    case "seconds":
      return `${nf({ maximumFractionDigits: 1 }).format(v)} s`;
    case "score":
      return nf({ maximumFractionDigits: 1 }).format(v);
    default:
      return nf({ minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
  }
}

// A value and the threshold it is held against. Where display rounding
// would show two different numbers alike (a CSAT of 4.598 against 4.6 as
// "4.6" and "4.6"), both take more places, up to six, until they differ.
export function valueAndThreshold(v, threshold, unit) {
  const usual = [value(v, unit), value(threshold, unit)];
  if (v == null || threshold == null || v === threshold || usual[0] !== usual[1]) return usual;
  for (let extra = 1; extra <= 6; extra++) {
    const pair = [v, threshold].map((x) => withPlaces(x, unit, extra));
    if (pair[0] !== pair[1]) return pair;
  }
  return usual;
}

// `v` in its unit with `extra` more places than `value` shows at most.
function withPlaces(v, unit, extra) {
  const places = (["percent", "seconds", "score"].includes(unit) ? 1 : 2) + extra;
  const digits = { minimumFractionDigits: places, maximumFractionDigits: places };
  if (unit === "percent") return nf({ style: "percent", ...digits }).format(v);
  if (unit === "seconds") return `${nf(digits).format(v)} s`;
  return nf(digits).format(v);
}

export function percent(v) {
  if (v === null || v === undefined) return "–";
  return nf({ style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(v);
}

// A compact axis label: 1.2万 / 12K.
export function compact(v) {
  return nf({ notation: "compact", maximumFractionDigits: 1 }).format(v);
}

export function time(text) {
  if (!text) return "–";
  const d = new Date(text);
  return d.toLocaleString(locale, { dateStyle: "short", timeStyle: "short" });
}

export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
