// The dashboard's shell: navigation by #hash, the language switch, errors.
import { json } from "./api.js";
import { t, lang, setKpiNames } from "./i18n.js";
import * as pages from "./pages.js";
import { esc } from "./format.js";

const PAGES = {
  overview: pages.overview,
  snapshots: pages.snapshots,
  scorecards: pages.scorecards,
  alerts: pages.alertsPage,
  connectors: pages.connectors,
};

function current() {
  const name = location.hash.slice(1).split("?")[0];
  return PAGES[name] ? name : "overview";
}

function nav() {
  const page = current();
  document.getElementById("nav").innerHTML = Object.keys(PAGES)
    .map((p) => `<a href="#${p}" class="${p === page ? "on" : ""}">${esc(t("nav." + p))}</a>`)
    .join("");
  for (const l of ["zh", "en"]) {
    const a = document.getElementById(`lang-${l}`);
    a.href = `?lang=${l}${location.hash}`;
    a.classList.toggle("on", l === lang);
  }
  document.title = `kpid · ${t("nav." + page)}`;
}

let kpisLoaded = false;

async function show() {
  nav();
  const main = document.getElementById("main");
  pages.disposeCharts();
  delete document.body.dataset.ready;
  main.innerHTML = `<p class="loading">${esc(t("loading"))}</p>`;
  try {
    if (!kpisLoaded) {
      setKpiNames(await json("/api/v1/kpis"));
      kpisLoaded = true;
    }
    await PAGES[current()](main);
  } catch (e) {
    main.innerHTML = `<p class="error">${esc(t("error"))}: ${esc(e.message)}</p>`;
    document.body.dataset.ready = "error";
  }
}

window.addEventListener("hashchange", show);
show();
