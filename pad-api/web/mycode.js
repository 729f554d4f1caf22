// The staff member's own marketing code (营销e码, issue 7): a panel that
// shows the QR code of GET /pad/mycode, served by the edge (edge/ecode).
// The code rotates like the branch e-code, so the panel fetches the next
// one when the current one's window ends, and only while it is open: a
// code on a closed panel or a logged-out tablet is of no use to anyone.

import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

const st = {
  bound: false,
  open: false,
  timer: 0, // the next fetch
  ticker: 0, // the countdown
  refreshAt: 0, // server time (ms) when the code rotates
  skew: 0, // server clock − tablet clock, ms
  period: 0, // s
  failed: false,
};

const now = () => Date.now() + st.skew;

// mycodeEnter offers the panel to a logged-in staff member.
export function mycodeEnter() {
  if (!st.bound) {
    st.bound = true;
    $("mycode-toggle").addEventListener("click", show);
    $("mycode-close").addEventListener("click", hide);
    $("mycode").addEventListener("click", (ev) => {
      if (ev.target === $("mycode")) hide(); // a tap beside the card
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && st.open) hide();
    });
  }
  $("mycode-toggle").hidden = false;
}

// mycodeWipe closes the panel and forgets its code (logout, session end).
export function mycodeWipe() {
  hide();
  $("mycode-toggle").hidden = true;
}

// mycodeRelang redraws the panel's words in the current language.
export function mycodeRelang() {
  render();
}

function show() {
  st.open = true;
  st.failed = false;
  $("mycode").hidden = false;
  $("mycode-close").focus();
  clearInterval(st.ticker);
  st.ticker = setInterval(render, 250);
  render();
  refresh();
}

function hide() {
  st.open = false;
  clearTimeout(st.timer);
  clearInterval(st.ticker);
  $("mycode").hidden = true;
  $("mycode-img").hidden = true;
  $("mycode-img").removeAttribute("src");
  st.refreshAt = 0;
}

function schedule(ms) {
  clearTimeout(st.timer);
  st.timer = setTimeout(refresh, Math.max(ms, 0));
}

function load(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(src);
    img.onerror = () => reject(new Error("qr image"));
    img.src = src;
  });
}

async function refresh() {
  if (!st.open) return;
  try {
    const r = await fetch("/pad/mycode", { cache: "no-store", credentials: "same-origin" });
    if (r.status === 401) {
      hide(); // the session ended: the app's own check shows the login
      return;
    }
    if (!r.ok) throw new Error("HTTP " + r.status);
    const c = await r.json();
    const src = await load(c.qr);
    if (!st.open) return;
    $("mycode-img").src = src;
    $("mycode-img").hidden = false;
    st.skew = Date.parse(c.server_time) - Date.now();
    st.refreshAt = Date.parse(c.refresh_at);
    st.period = c.period_s;
    st.failed = false;
    schedule(st.refreshAt - now() + 200);
  } catch {
    st.failed = true;
    schedule(2000);
  }
  render();
}

function render() {
  if (!st.open) return;
  const left = st.refreshAt - now();
  // An old code is still accepted for one more period; hide it halfway
  // through that if no new one came.
  if (st.refreshAt && left < -(st.period * 1000) / 2) $("mycode-img").hidden = true;
  $("mycode-hint").textContent = t("mycode.hint", { p: st.period || 60 });
  let s = t("mycode.loading");
  if (st.failed) s = t("mycode.failed");
  else if (st.refreshAt) s = t("mycode.refresh", { s: Math.max(0, Math.ceil(left / 1000)) });
  $("mycode-countdown").textContent = s;
}
