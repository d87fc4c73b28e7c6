// Calls to /api/v1/ with the token kept in local storage; asks for the
// token once when the API answers 401.
import { t } from "./i18n.js";

const KEY = "kpid.token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers() {
  const token = localStorage.getItem(KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function askToken(again) {
  const dialog = document.getElementById("token-dialog");
  document.getElementById("token-title").textContent = t("token.title");
  document.getElementById("token-help").textContent = t(again ? "token.wrong" : "token.help");
  document.getElementById("token-save").textContent = t("token.save");
  const input = document.getElementById("token-input");
  input.value = "";
  return new Promise((resolve) => {
    const form = document.getElementById("token-form");
    form.onsubmit = (e) => {
      e.preventDefault();
      localStorage.setItem(KEY, input.value.trim());
      dialog.close();
      resolve();
    };
    dialog.showModal();
  });
}

let asking = null;

async function request(path) {
  for (let attempt = 0; ; attempt++) {
    const resp = await fetch(path, { headers: headers() });
    if (resp.status !== 401) return resp;
    // One dialog for all the requests that were refused together.
    if (!asking) {
      asking = askToken(attempt > 0 || localStorage.getItem(KEY) !== null).finally(() => (asking = null));
    }
    await asking;
  }
}

export async function get(path) {
  const resp = await request(path);
  const body = await resp.json().catch(() => ({ error: resp.statusText }));
  if (!resp.ok) throw new ApiError(resp.status, body.error || resp.statusText);
  return { body, headers: resp.headers };
}

export async function json(path) {
  return (await get(path)).body;
}

// Downloads through fetch, so the token goes along.
export async function download(path, name) {
  const resp = await request(path);
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    throw new ApiError(resp.status, body.error || resp.statusText);
  }
  const url = URL.createObjectURL(await resp.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
