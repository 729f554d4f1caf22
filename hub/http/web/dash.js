// Huiyan HQ dashboard (总行看板). Reads the hub's /v1 API with the admin
// token, which is kept in sessionStorage only: it dies with the tab, and
// nothing else about the user or any customer is stored. Reports carry
// counts and staff ids, never a customer.

const TOKEN_KEY = "huiyan.hub.token";
const LANG_KEY = "huiyan.hub.lang";
const DAY_MS = 86400000;
const CST_MS = 8 * 3600000; // report days are China Standard Time days

const words = {
  zh: {
    "title": "慧眼迎客 · 总行看板", "lang": "English", "logout": "退出",
    "login.heading": "管理员登录", "login.token": "管理令牌", "login.submit": "进入看板",
    "login.hint": "请输入总行管理令牌（huiyan-hub 启动时写入 admin.token）。令牌只保存在本标签页中。",
    "login.bad": "令牌无效", "login.network": "无法连接总行服务：{msg}",
    "range.from": "从", "range.to": "到", "range.today": "今天", "range.7": "近7天", "range.30": "近30天",
    "range.branch": "网点", "range.all": "全部网点", "refresh": "刷新", "updated": "更新于 {t}",
    "csv": "导出CSV", "chart.heading": "每日漏斗", "top.heading": "促活率最高网点", "bottom.heading": "促活率最低网点",
    "staff.heading": "员工促活排行", "branches.heading": "网点与边缘节点",
    "k.arrivals": "到店", "k.recognised": "识别", "k.newFaces": "新面孔", "k.claimed": "已认领", "k.served": "已服务",
    "k.activation": "促活率", "k.newUser": "拉新率", "k.claimTime": "认领用时 中位/P90", "k.converted": "促活+拉新",
    "k.activatedOf": "{n} / {d} 位待促活客户", "k.newUsersOf": "{n} / {d} 位未开通客户", "k.channels": "柜台 {c} · e码 {e} · 转盘 {w}",
    "k.recognisedOf": "新面孔 {n}", "k.servedOf": "已认领 {n}",
    "col.branch": "网点", "col.arrivals": "到店", "col.activation": "促活率", "col.activated": "促活",
    "col.newUsers": "拉新", "col.newUser": "拉新率", "col.claimMedian": "认领中位", "col.rank": "#", "col.staff": "员工",
    "col.claims": "认领", "col.served": "服务", "col.version": "数据版本", "col.since": "应用于", "col.customers": "客户数",
    "col.lastSeen": "最近联系", "col.outbox": "待上送", "col.devices": "设备", "col.state": "状态",
    "state.ok": "正常", "state.nocred": "未发凭证", "state.stale": "数据过旧", "state.silent": "失联", "state.never": "未连接", "state.backlog": "积压",
    "none": "暂无数据", "ago.s": "{n}秒前", "ago.m": "{n}分钟前", "ago.h": "{n}小时前", "ago.d": "{n}天前",
    "cluster": "集群 {n} 节点 · 主节点 {leader}", "hubversion": "最新版本 v{v}", "devices.of": "{on}/{all} 在线",
    "sec": "{n}秒",
  },
  en: {
    "title": "Huiyan · HQ dashboard", "lang": "中文", "logout": "Log out",
    "login.heading": "Administrator", "login.token": "Admin token", "login.submit": "Open dashboard",
    "login.hint": "Enter the HQ admin token (huiyan-hub writes it to admin.token at first start). It is kept in this tab only.",
    "login.bad": "Invalid token", "login.network": "Cannot reach the hub: {msg}",
    "range.from": "From", "range.to": "To", "range.today": "Today", "range.7": "7 days", "range.30": "30 days",
    "range.branch": "Branch", "range.all": "All branches", "refresh": "Refresh", "updated": "Updated {t}",
    "csv": "CSV", "chart.heading": "Funnel per day", "top.heading": "Top branches by activation rate",
    "bottom.heading": "Bottom branches by activation rate", "staff.heading": "Staff leaderboard: activations",
    "branches.heading": "Branches and edges",
    "k.arrivals": "Arrivals", "k.recognised": "Recognised", "k.newFaces": "New faces", "k.claimed": "Claimed", "k.served": "Served",
    "k.activation": "Activation rate", "k.newUser": "New-user rate", "k.claimTime": "Time to claim, median/p90",
    "k.converted": "Activated + new users",
    "k.activatedOf": "{n} of {d} customers to activate", "k.newUsersOf": "{n} of {d} without mobile banking",
    "k.channels": "counter {c} · e-code {e} · wheel {w}", "k.recognisedOf": "{n} new faces", "k.servedOf": "{n} claimed",
    "col.branch": "Branch", "col.arrivals": "Arrivals", "col.activation": "Activation", "col.activated": "Activated",
    "col.newUsers": "New users", "col.newUser": "New-user rate", "col.claimMedian": "Claim median", "col.rank": "#",
    "col.staff": "Staff", "col.claims": "Claims", "col.served": "Served", "col.version": "Version", "col.since": "Applied",
    "col.customers": "Customers", "col.lastSeen": "Last seen", "col.outbox": "Outbox", "col.devices": "Devices",
    "col.state": "State", "state.ok": "OK", "state.nocred": "No credential", "state.stale": "Stale data", "state.silent": "Silent", "state.never": "Never seen",
    "state.backlog": "Backlog", "none": "No data", "ago.s": "{n}s ago", "ago.m": "{n} min ago", "ago.h": "{n} h ago",
    "ago.d": "{n} d ago", "cluster": "{n} nodes · leader {leader}", "hubversion": "newest version v{v}",
    "devices.of": "{on}/{all} online", "sec": "{n}s",
  },
};

let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
let token = sessionStorage.getItem(TOKEN_KEY) || "";
let last = null; // the last data set shown, for a language switch

const $ = (id) => document.getElementById(id);

function t(key, vars) {
  let s = words[lang][key] ?? words.zh[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replaceAll("{" + k + "}", String(v));
  return s;
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function applyWords() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
}

// pct writes a rate; a rate over nobody is "—", not 0.00 %.
const pct = (r, d) => (d === 0 ? "—" : (r * 100).toFixed(2) + "%");
const secs = (s) => t("sec", { n: s >= 100 ? Math.round(s) : s.toFixed(1).replace(/\.0$/, "") });

// cstDay is the report day (YYYY-MM-DD, China Standard Time) of a time.
function cstDay(ms) {
  return new Date(ms + CST_MS).toISOString().slice(0, 10);
}

function ago(iso) {
  if (!iso) return "—";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return t("ago.s", { n: s });
  if (s < 3600) return t("ago.m", { n: Math.floor(s / 60) });
  if (s < 86400) return t("ago.h", { n: Math.floor(s / 3600) });
  return t("ago.d", { n: Math.floor(s / 86400) });
}

class AuthError extends Error {}

async function api(path, accept) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token, Accept: accept || "application/json" }, cache: "no-store" });
  if (r.status === 401) throw new AuthError(t("login.bad"));
  if (!r.ok) {
    let msg = r.status + " " + r.statusText;
    try { msg = (await r.json()).message || msg; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  return accept === "text/csv" ? r.blob() : r.json();
}

function query(by, extra) {
  const p = new URLSearchParams({ from: $("from").value, to: $("to").value, by });
  if ($("branch").value) p.set("branch", $("branch").value);
  for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
  return "/v1/reports/funnel?" + p;
}

function setRange(daysBack) {
  const today = cstDay(Date.now());
  $("to").value = today;
  $("from").value = cstDay(Date.parse(today + "T00:00:00Z") - daysBack * DAY_MS);
}

async function load() {
  $("error").hidden = true;
  try {
    const [cluster, branches, byDay, byBranch, byStaff] = await Promise.all([
      fetch("/v1/cluster", { cache: "no-store" }).then((r) => r.json()),
      api("/v1/branches"),
      api(query("day")),
      api(query("branch")),
      api(query("staff")),
    ]);
    last = { cluster, branches, byDay, byBranch, byStaff, at: new Date() };
    render();
  } catch (e) {
    if (e instanceof AuthError) return logout(e.message);
    $("error").textContent = t("login.network", { msg: e.message });
    $("error").hidden = false;
  }
}

function render() {
  if (!last) return;
  const { cluster, branches, byDay, byBranch, byStaff, at } = last;
  $("cluster").textContent = t("cluster", { n: (cluster.members || []).length, leader: cluster.leader || "—" });
  $("updated").textContent = t("updated", { t: at.toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB") });
  $("hubversion").textContent = t("hubversion", { v: branches.version });
  renderBranchOptions(branches.branches || []);
  renderKPIs(byDay.total);
  renderChart(byDay);
  renderRanks(byBranch.rows || []);
  renderStaff(byStaff.staff || []);
  renderBranches(branches);
}

function renderBranchOptions(list) {
  const sel = $("branch");
  const keep = sel.value;
  const have = new Set([...sel.options].map((o) => o.value));
  for (const b of list) if (!have.has(b.branch)) sel.append(el("option", { value: b.branch }, b.branch));
  sel.value = keep;
}

function kpi(id, label, value, sub) {
  return el("div", { class: "kpi", "data-kpi": id }, el("div", { class: "kpi-label" }, label),
    el("div", { class: "kpi-value" }, value), el("div", { class: "kpi-sub muted" }, sub || ""));
}

function renderKPIs(c) {
  const ch = c.by_channel || {};
  $("kpis").replaceChildren(
    kpi("arrivals", t("k.arrivals"), c.arrivals, t("k.channels", { c: ch.counter || 0, e: ch.ecode || 0, w: ch.wheel || 0 })),
    kpi("recognised", t("k.recognised"), c.recognised, t("k.recognisedOf", { n: c.new_faces })),
    kpi("served", t("k.served"), c.served, t("k.servedOf", { n: c.claimed })),
    kpi("activation", t("k.activation"), pct(c.activation_rate, c.need_activation), t("k.activatedOf", { n: c.activated, d: c.need_activation })),
    kpi("new_user", t("k.newUser"), pct(c.new_user_rate, c.no_mbank), t("k.newUsersOf", { n: c.new_users, d: c.no_mbank })),
    kpi("claim", t("k.claimTime"), secs(c.claim_median_s) + " / " + secs(c.claim_p90_s), ""),
  );
}

// renderChart draws grouped bars per day as inline SVG: arrivals, claimed,
// and conversions (activated + new users). No chart library: the hub
// serves everything it shows.
function renderChart(rep) {
  const box = $("chart");
  const days = [];
  for (let d = Date.parse(rep.from + "T00:00:00Z"); d <= Date.parse(rep.to + "T00:00:00Z"); d += DAY_MS) {
    days.push(new Date(d).toISOString().slice(0, 10));
  }
  const rows = new Map((rep.rows || []).map((r) => [r.day, r]));
  const max = Math.max(1, ...(rep.rows || []).map((r) => r.arrivals));
  const W = Math.max(640, days.length * 36), H = 220, pad = 28, bw = (W - pad) / days.length;
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H + 24}`);
  svg.setAttribute("role", "img");
  const mk = (tag, a, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(a)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  mk("line", { x1: pad, y1: H, x2: W, y2: H, class: "axis" });
  mk("text", { x: 2, y: 12, class: "tick" }, max);
  days.forEach((day, i) => {
    const r = rows.get(day) || { arrivals: 0, claimed: 0, activated: 0, new_users: 0 };
    const vals = [["arrivals", r.arrivals], ["claimed", r.claimed], ["activated", r.activated + r.new_users]];
    const w = Math.max(2, (bw - 6) / 3);
    vals.forEach(([cls, v], j) => {
      const h = (v / max) * (H - 16);
      const rect = mk("rect", { x: pad + i * bw + 3 + j * w, y: H - h, width: w - 1, height: h, class: "bar " + cls, "data-day": day });
      const tip = document.createElementNS(NS, "title");
      tip.textContent = `${day} ${t("k." + (cls === "activated" ? "converted" : cls))}: ${v}`;
      rect.append(tip);
    });
    if (days.length <= 14 || i % Math.ceil(days.length / 14) === 0) {
      mk("text", { x: pad + i * bw + bw / 2, y: H + 16, class: "tick", "text-anchor": "middle" }, day.slice(5));
    }
  });
  box.replaceChildren(svg);
}

function table(id, head, rows) {
  const tb = $(id);
  const tr = el("tr", {}, ...head.map((h) => el("th", {}, h)));
  const body = rows.length ? rows : [[el("span", { class: "muted" }, t("none"))]];
  tb.replaceChildren(el("thead", {}, tr), el("tbody", {}, ...body.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
}

// renderRanks lists the five branches with the highest and the lowest
// activation rate among those with customers to activate.
function renderRanks(rows) {
  const ranked = rows.filter((r) => r.need_activation > 0)
    .sort((a, b) => b.activation_rate - a.activation_rate || b.activated - a.activated || a.branch.localeCompare(b.branch));
  const head = [t("col.branch"), t("col.activation"), t("col.activated"), t("col.arrivals"), t("col.newUser")];
  const row = (r) => [r.branch, pct(r.activation_rate, r.need_activation), `${r.activated}/${r.need_activation}`, r.arrivals,
    pct(r.new_user_rate, r.no_mbank)];
  table("top", head, ranked.slice(0, 5).map(row));
  table("bottom", head, ranked.slice(-5).reverse().map(row));
}

function renderStaff(staff) {
  table("staff", [t("col.rank"), t("col.staff"), t("col.branch"), t("col.activated"), t("col.newUsers"), t("col.claims"),
    t("col.served"), t("col.claimMedian")],
  staff.slice(0, 20).map((s, i) => [i + 1, s.staff, s.branch, s.activated, s.new_users, s.claims, s.served, secs(s.claim_median_s)]));
}

// branchState is the one-word health of a branch's edge, from the hub's
// edge_state (none: no credential issued; unknown: never reported; online
// or offline: heard from recently or not) and, for an online edge, a
// backlog when events wait over an hour and stale data when it holds an
// older version than the newest for more than a day.
function branchState(b, newest) {
  switch (b.edge_state) {
    case "none": return ["nocred", "muted"];
    case "unknown": return ["never", "bad"];
    case "offline": return ["silent", "bad"];
  }
  if (b.outbox_oldest && Date.now() - Date.parse(b.outbox_oldest) > 3600000) return ["backlog", "warn"];
  if (b.applied_version < newest && b.applied_since && Date.now() - Date.parse(b.applied_since) > DAY_MS) return ["stale", "warn"];
  return ["ok", "ok"];
}

function renderBranches(br) {
  const rows = (br.branches || []).map((b) => {
    const [st, cls] = branchState(b, br.version);
    const devs = b.devices || [];
    const on = b.devices_online || 0, all = on + (b.devices_offline || 0);
    const devText = all ? t("devices.of", { on, all }) : "—";
    const devCell = el("span", { class: on < all ? "warn" : "", "data-devices": `${on}/${all}`,
      title: devs.map((d) => `${d.device} ${d.online ? "online" : "offline"}`).join("\n") }, devText);
    return [b.branch, b.applied_version ? "v" + b.applied_version : "—", ago(b.applied_since), b.customers,
      ago(b.last_seen), b.outbox_depth ?? "—", devCell, el("span", { class: "pill " + cls, "data-state": st }, t("state." + st))];
  });
  table("branches", [t("col.branch"), t("col.version"), t("col.since"), t("col.customers"), t("col.lastSeen"),
    t("col.outbox"), t("col.devices"), t("col.state")], rows);
}

async function downloadCSV(by) {
  try {
    const blob = await api(query(by, { format: "csv" }), "text/csv");
    const a = el("a", { href: URL.createObjectURL(blob), download: `funnel-${by}-${$("from").value}-${$("to").value}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) {
    if (e instanceof AuthError) return logout(e.message);
    $("error").textContent = e.message;
    $("error").hidden = false;
  }
}

function showLogin(msg) {
  $("main").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = msg || "";
  $("login-error").hidden = !msg;
  $("token").focus();
}

function logout(msg) {
  token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  last = null;
  showLogin(msg);
}

function start() {
  $("login").hidden = true;
  $("main").hidden = false;
  $("logout").hidden = false;
  load();
}

document.addEventListener("DOMContentLoaded", () => {
  applyWords();
  setRange(6);
  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, lang);
    applyWords();
    render();
  });
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    start();
  });
  $("logout").addEventListener("click", () => logout(""));
  $("refresh").addEventListener("click", load);
  $("branch").addEventListener("change", load);
  $("from").addEventListener("change", load);
  $("to").addEventListener("change", load);
  for (const b of document.querySelectorAll("[data-range]")) {
    b.addEventListener("click", () => { setRange(Number(b.dataset.range)); load(); });
  }
  for (const b of document.querySelectorAll("[data-csv]")) b.addEventListener("click", () => downloadCSV(b.dataset.csv));
  // A dashboard left open on a wall stays current.
  setInterval(() => { if (token && !document.hidden) load(); }, 60000);
  if (token) start(); else showLogin("");
});
