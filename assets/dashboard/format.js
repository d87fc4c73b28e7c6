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
