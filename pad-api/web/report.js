// The supervisor's branch report (issue 6, "Reports"): today and the last
// 7 days of this branch's funnel from GET /pad/report, which the edge
// computes from its own visit facts exactly as HQ does (hub/funnel). Only
// the supervisor role gets the button; the edge refuses everyone else.
//
// Privacy: the report holds counts and staff ids and masked staff names,
// never a customer. It lives in this module's memory only and is dropped
// at logout (reportWipe).

import { t, label, serverText, hhmm } from "./i18n.js";

const REFRESH = 60000; // ms between refreshes while the report is shown
const CHANNELS = ["counter", "ecode", "wheel"];
const OUTCOME_ORDER = ["served", "activated", "declined", "referred", "follow_up", "no_contact"];

const $ = (id) => document.getElementById(id);

const rep = {
  me: null, // {id, role}
  open: false,
  range: "today", // today | week
  data: null, // the last BranchReport
  error: "",
  loading: false,
  at: null, // when data came (Date)
  timer: 0,
  seq: 0, // drops answers to superseded requests
};

function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined && text !== null) el.textContent = text;
  return el;
}

function button(cls, text, onClick) {
  const b = h("button", "btn " + cls, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

// reportEnter is called when a staff member enters the app: supervisors
// get the report button.
export function reportEnter(me) {
  rep.me = me ? { id: me.id, role: me.role } : null;
  const supervisor = !!rep.me && rep.me.role === "supervisor";
  $("report-toggle").hidden = !supervisor;
  if (!supervisor) close();
  renderToggle();
}

// reportWipe forgets the report: logout or a session's end.
export function reportWipe() {
  close();
  rep.me = null;
  rep.data = null;
  rep.error = "";
  rep.at = null;
  rep.seq++;
  $("report").replaceChildren();
  $("report-toggle").hidden = true;
}

// reportRelang re-renders in the new language.
export function reportRelang() {
  renderToggle();
  if (rep.open) render();
}

function toggle() {
  if (rep.open) close();
  else show();
}

function show() {
  if (!rep.me || rep.me.role !== "supervisor") return;
  rep.open = true;
  $("app-view").classList.add("report-mode");
  $("report").hidden = false;
  renderToggle();
  render();
  load();
}

function close() {
  rep.open = false;
  clearTimeout(rep.timer);
  rep.timer = 0;
  $("app-view").classList.remove("report-mode");
  $("report").hidden = true;
  renderToggle();
}

function renderToggle() {
  const b = $("report-toggle");
  b.textContent = rep.open ? t("report.close") : t("report.open");
  b.setAttribute("aria-pressed", String(rep.open));
}

function query(extra) {
  const p = new URLSearchParams();
  if (rep.range === "week") {
    p.set("days", "7");
    p.set("by", "day");
  }
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return "/pad/report?" + p.toString();
}

async function load() {
  clearTimeout(rep.timer);
  rep.timer = 0;
  if (!rep.open) return;
  const seq = ++rep.seq;
  rep.loading = true;
  render();
  let data = null;
  let error = "";
  try {
    const r = await fetch(query(), { cache: "no-store", credentials: "same-origin" });
    if (r.ok) {
      data = await r.json();
    } else {
      let body = {};
      try {
        body = await r.json();
      } catch {
        // not JSON: a proxy's error page
      }
      error = r.status === 403 ? t("report.forbidden") : serverText(body.message) || String(r.status);
    }
  } catch {
    error = t("login.network");
  }
  if (seq !== rep.seq || !rep.open) return;
  rep.loading = false;
  if (data) {
    rep.data = data;
    rep.error = "";
    rep.at = new Date();
  } else {
    rep.error = error;
  }
  render();
  rep.timer = setTimeout(load, REFRESH);
}

function pct(rate) {
  return (Math.round((Number(rate) || 0) * 10000) / 100).toFixed(2) + "%";
}

function dur(seconds) {
  const s = Math.round(Number(seconds) || 0);
  if (s < 60) return t("report.sec", { s });
  return t("report.min", { m: Math.floor(s / 60), s: s % 60 });
}

function kpi(key, title, value, sub) {
  const el = h("div", "kpi");
  el.dataset.kpi = key; // a metric name, not data
  el.append(h("div", "kpi-title", title), h("div", "kpi-value", value));
  if (sub) el.append(h("div", "kpi-sub", sub));
  return el;
}

function table(cls, head, rows) {
  const tb = h("table", "rtable " + cls);
  const tr = h("tr");
  for (const c of head) tr.append(h("th", null, c));
  const thead = h("thead");
  thead.append(tr);
  const tbody = h("tbody");
  for (const row of rows) {
    const r = h("tr");
    for (const c of row) r.append(h("td", null, String(c)));
    tbody.append(r);
  }
  tb.append(thead, tbody);
  return tb;
}

function render() {
  const root = $("report");
  const head = h("header", "report-head");
  head.append(h("h2", null, t("report.title")));
  const tabs = h("div", "report-range");
  tabs.setAttribute("role", "tablist");
  for (const r of ["today", "week"]) {
    const b = button("range-btn", t(r === "today" ? "report.today" : "report.week"), () => {
      if (rep.range === r) return;
      rep.range = r;
      rep.data = null;
      load();
    });
    b.setAttribute("role", "tab");
    b.setAttribute("aria-selected", String(rep.range === r));
    tabs.append(b);
  }
  head.append(tabs);
  const tools = h("div", "report-tools");
  tools.append(button("ghost", t("report.refresh"), () => load()));
  for (const [key, extra] of [["report.csv", { format: "csv" }], ["report.csvStaff", { format: "csv", table: "staff" }]]) {
    const a = h("a", "btn ghost csv", t(key));
    a.href = query(extra);
    a.setAttribute("download", "");
    tools.append(a);
  }
  head.append(tools);

  const status = h("p", "report-status");
  status.setAttribute("role", "status");
  if (rep.error) {
    status.classList.add("bad");
    status.textContent = t("report.failed", { msg: rep.error });
  } else if (rep.loading && !rep.data) {
    status.textContent = t("report.loading");
  } else if (rep.data) {
    status.textContent = t("report.range", { from: rep.data.from, to: rep.data.to }) + " · " + t("report.updated", { t: hhmm(rep.at) });
  }
  const parts = [head, status];
  const d = rep.data;
  if (d && d.total) parts.push(...body(d));
  root.replaceChildren(...parts);
}

function body(d) {
  const c = d.total;
  const out = [];
  const kpis = h("section", "kpis");
  kpis.append(
    kpi("arrivals", t("report.arrivals"), String(c.arrivals)),
    kpi("recognised", t("report.recognised"), String(c.recognised)),
    kpi("new_faces", t("report.newFaces"), String(c.new_faces)),
    kpi("claimed", t("report.claimed"), String(c.claimed)),
    kpi("served", t("report.served"), String(c.served)),
    kpi("activation_rate", t("report.activation"), pct(c.activation_rate),
      t("report.activationOf", { n: c.activated, d: c.need_activation })),
    kpi("new_user_rate", t("report.newUser"), pct(c.new_user_rate),
      t("report.newUserOf", { n: c.new_users, d: c.no_mbank })),
    kpi("claim_time", t("report.claimTime"), dur(c.claim_median_s), t("report.claimP90", { p: dur(c.claim_p90_s) })),
  );
  out.push(kpis);
  if (d.outbox_depth > 0) out.push(h("p", "report-lag", t("report.lag", { n: d.outbox_depth })));

  const grid = h("div", "report-grid");
  const ch = h("section", "report-box channels");
  ch.append(h("h3", null, t("report.byChannel")));
  ch.append(table("by-channel", [t("report.channel"), t("report.visits"), t("report.signals")],
    CHANNELS.map((k) => [label("channel", k), c.by_channel?.[k] ?? 0, c.signals?.[k] ?? 0])));
  grid.append(ch);

  const oc = h("section", "report-box outcomes-box");
  oc.append(h("h3", null, t("report.outcomes")));
  const known = OUTCOME_ORDER.filter((o) => (c.outcomes?.[o] ?? 0) > 0);
  const extra = Object.keys(c.outcomes || {}).filter((o) => !OUTCOME_ORDER.includes(o) && c.outcomes[o] > 0);
  const list = [...known, ...extra];
  if (list.length) {
    oc.append(table("by-outcome", [t("card.outcome"), t("report.visits")], list.map((o) => [label("outcome", o), c.outcomes[o]])));
  } else {
    oc.append(h("p", "muted", t("report.noOutcomes")));
  }
  grid.append(oc);
  out.push(grid);

  if (rep.range === "week" && Array.isArray(d.rows) && d.rows.length) {
    const days = h("section", "report-box by-day");
    days.append(h("h3", null, t("report.byDay")));
    days.append(table("days", [t("report.day"), t("report.arrivals"), t("report.recognised"), t("report.claimed"),
      t("report.served"), t("report.activated"), t("report.newUsers")],
    d.rows.map((r) => [r.day, r.arrivals, r.recognised, r.claimed, r.served, r.activated, r.new_users])));
    out.push(days);
  }

  const st = h("section", "report-box staff-box");
  st.append(h("h3", null, t("report.staff")));
  const staff = Array.isArray(d.staff) ? d.staff : [];
  if (staff.length) {
    const names = d.staff_names || {};
    st.append(table("leaderboard", [t("report.rank"), t("report.name"), t("report.activated"), t("report.newUsers"),
      t("report.claims"), t("report.servedN"), t("report.median")],
    staff.map((s, i) => [i + 1, names[s.staff] || s.staff, s.activated, s.new_users, s.claims, s.served, dur(s.claim_median_s)])));
  } else {
    st.append(h("p", "muted", t("report.noStaff")));
  }
  out.push(st);
  return out;
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && rep.open) load();
});
$("report-toggle").addEventListener("click", toggle);
