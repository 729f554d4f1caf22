// Huiyan PAD (营销PAD): login, the live arrival cards and the connection to
// the edge's /pad/ws (DESIGN.md, "PAD contract" and "PAD login";
// pad-api/asyncapi.yaml).
//
// Privacy (issue 4): customer data lives only in this page's memory and in
// the text of the cards. Nothing about a customer goes into the URL, an
// element attribute, storage or the console; cards are found by visit id in
// a Map, never through the DOM. Logout and a session's end wipe both. The
// only thing kept in storage is the language choice (i18n.js).
//
// Connection: hello → resume with the last seq (kept in memory only) and a
// ping; the pong that answers it marks the end of the replay (the server
// handles a connection's messages in order), and only then is the screen
// called live. A lost connection is retried with exponential backoff; each
// retry first asks GET /pad/me, so that an ended session shows the login
// instead of retrying for ever.

import { t, label, getLang, setLang, serverText, hhmm, since, applyStatic, OUTCOMES } from "./i18n.js";
import { Feed, FILTERS, matches, defaultFilter, topTags, orderActions } from "./feed.js";
import { mycodeEnter, mycodeWipe, mycodeRelang } from "./mycode.js";
import { reportEnter, reportWipe, reportRelang } from "./report.js";

const WS_PATH = "/pad/ws";
const BACKOFF_MIN = 500; // ms, doubled per failed attempt
const BACKOFF_MAX = 10000;
const HEARTBEAT = 10000; // ms between pings while live
const DEAD_AFTER = 25000; // ms without any message: the connection is dead
const PENDING_TIMEOUT = 8000; // ms a claim/release/outcome may wait for its visit message
const NAMES_EVERY = 5000; // ms between staff-name look-ups

const $ = (id) => document.getElementById(id);

const feed = new Feed();

const ui = {
  me: null, // {id, name, role}
  branch: "",
  filter: "all",
  els: new Map(), // visit id → {el, since}
  pending: new Map(), // visit id → {type, result, timer}
  names: new Map(), // staff id → display name
  namesAt: 0,
  namesTimer: 0,
  toastTimer: 0,
  busy: false,
};

const conn = {
  ws: null,
  opening: false, // open() is between its session check and the socket
  helloed: false, // this socket got its hello
  stopped: true, // logged out: do not reconnect
  attempt: 0,
  retryTimer: 0,
  heartbeat: 0,
  ticker: 0,
  state: "connecting", // connecting | syncing | live | reconnecting
  lostAt: null, // when the screen stopped being live (Date), null while live
  everLive: false,
  lastRx: 0,
  skew: 0, // server clock − tablet clock, ms
};

function serverNow() {
  return Date.now() + conn.skew;
}

// h makes an element; text is always set as text, never parsed as HTML.
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

// ---------------------------------------------------------------- session

async function boot() {
  setLang(getLang());
  applyStatic(document);
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", logout);
  for (const b of document.querySelectorAll(".lang-switch")) b.addEventListener("click", switchLang);
  window.addEventListener("online", () => reconnectNow());
  window.addEventListener("offline", () => renderConn());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    heartbeat(); // a tablet waking up: is the socket still there?
    reconnectNow();
  });
  let r;
  try {
    r = await fetch("/pad/me", { cache: "no-store", credentials: "same-origin" });
  } catch {
    showLogin("", t("login.network"));
    return;
  }
  if (r.ok) {
    enter(await r.json());
  } else {
    showLogin();
  }
}

function showLogin(note = "", error = "") {
  $("app-view").hidden = true;
  $("login-view").hidden = false;
  setLoginMessage("login-error", error);
  setLoginMessage("login-note", note);
  $("pin").value = "";
  $("staff").focus();
}

function setLoginMessage(id, text) {
  const el = $(id);
  el.textContent = text || "";
  el.hidden = !text;
}

async function onLogin(ev) {
  ev.preventDefault();
  if (ui.busy) return;
  const staff = $("staff").value.trim();
  const pin = $("pin").value;
  setLoginMessage("login-note", "");
  if (!staff || !pin) {
    setLoginMessage("login-error", t("login.required"));
    return;
  }
  ui.busy = true;
  const submit = $("login-submit");
  submit.disabled = true;
  submit.textContent = t("login.busy");
  let r;
  try {
    r = await fetch("/pad/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ staff, pin }),
      cache: "no-store",
      credentials: "same-origin",
    });
  } catch {
    r = null;
  } finally {
    ui.busy = false;
    submit.disabled = false;
    submit.textContent = t("login.submit");
  }
  $("pin").value = "";
  if (!r) {
    setLoginMessage("login-error", t("login.network"));
    return;
  }
  if (r.ok) {
    setLoginMessage("login-error", "");
    enter(await r.json());
    return;
  }
  let body = {};
  try {
    body = await r.json();
  } catch {
    // not JSON: a proxy's error page
  }
  if (r.status === 429 || body.code === "rate_limited") {
    const m = Math.max(1, Math.ceil((Number(body.retry_after_s) || 60) / 60));
    setLoginMessage("login-error", t("login.limited", { m }));
  } else if (r.status === 401) {
    setLoginMessage("login-error", t("login.bad"));
    $("pin").focus();
  } else {
    setLoginMessage("login-error", t("login.failed", { msg: serverText(body.message) || r.status }));
  }
}

// enter shows the app for a logged-in staff member (SessionInfo).
function enter(info) {
  ui.me = { id: info.staff.id, name: info.staff.name, role: info.staff.role };
  ui.branch = info.branch || "";
  ui.names.set(ui.me.id, ui.me.name);
  ui.filter = defaultFilter(ui.me.role);
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  setLoginMessage("login-error", "");
  setLoginMessage("login-note", "");
  $("staff").value = "";
  renderWho();
  renderFilters();
  renderDevices();
  layout();
  reportEnter(ui.me);
  mycodeEnter();
  startConn();
  fetchNames();
}

async function logout() {
  stopConn();
  try {
    await fetch("/pad/logout", { method: "POST", cache: "no-store", credentials: "same-origin" });
  } catch {
    // The cookie is HttpOnly: without the server it stays until it
    // expires, but this tablet shows nothing more either way.
  }
  wipe();
  showLogin(t("login.loggedOut"));
}

// sessionEnded: the server says the session is over (expired, logged out
// elsewhere, staff member left the roster).
function sessionEnded(message) {
  stopConn();
  wipe();
  showLogin("", message || t("login.expired"));
}

// wipe forgets every customer and staff detail this page holds.
function wipe() {
  reportWipe();
  mycodeWipe();
  feed.reset();
  for (const p of ui.pending.values()) clearTimeout(p.timer);
  ui.pending.clear();
  ui.els.clear();
  ui.names.clear();
  ui.me = null;
  ui.branch = "";
  clearTimeout(ui.namesTimer);
  clearTimeout(ui.toastTimer);
  $("cards").replaceChildren();
  $("devices").replaceChildren();
  $("filters").replaceChildren();
  $("who-name").textContent = "";
  $("who-role").textContent = "";
  $("branch").textContent = "";
  $("banner").hidden = true;
  $("banner").textContent = "";
  $("toast").hidden = true;
  $("toast").textContent = "";
  $("empty").hidden = true;
  conn.lostAt = null;
  conn.everLive = false;
  conn.skew = 0;
}

function switchLang() {
  setLang(getLang() === "zh" ? "en" : "zh");
  applyStatic(document);
  if (ui.me) {
    renderWho();
    renderFilters();
    renderDevices();
    renderConn();
    for (const id of ui.els.keys()) renderCard(id);
    layout();
    reportRelang();
    mycodeRelang();
  }
}

// ------------------------------------------------------------- connection

function startConn() {
  conn.stopped = false;
  conn.attempt = 0;
  conn.lostAt = null;
  conn.everLive = false;
  conn.state = "connecting";
  clearInterval(conn.heartbeat);
  clearInterval(conn.ticker);
  conn.heartbeat = setInterval(heartbeat, HEARTBEAT);
  conn.ticker = setInterval(tick, 1000);
  renderConn();
  open();
}

function stopConn() {
  conn.stopped = true;
  clearTimeout(conn.retryTimer);
  clearInterval(conn.heartbeat);
  clearInterval(conn.ticker);
  const ws = conn.ws;
  conn.ws = null;
  if (ws) ws.close(1000, "logout");
}

async function open() {
  clearTimeout(conn.retryTimer);
  if (conn.stopped || conn.ws || conn.opening) return;
  if (conn.attempt > 0) {
    let r;
    conn.opening = true;
    try {
      r = await fetch("/pad/me", { cache: "no-store", credentials: "same-origin" });
    } catch {
      r = null;
    } finally {
      conn.opening = false;
    }
    if (conn.stopped || conn.ws) return;
    if (r && r.status === 401) {
      sessionEnded(t("login.expired"));
      return;
    }
    if (!r || !r.ok) {
      retry();
      return;
    }
  }
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + WS_PATH);
  conn.ws = ws;
  conn.helloed = false;
  conn.lastRx = Date.now();
  ws.onmessage = (ev) => {
    if (conn.ws === ws) onMessage(ws, ev.data);
  };
  ws.onclose = () => {
    if (conn.ws !== ws) return;
    conn.ws = null;
    lost();
  };
}

function lost() {
  if (conn.stopped) return;
  if (conn.everLive && !conn.lostAt) conn.lostAt = new Date();
  conn.state = conn.everLive ? "reconnecting" : "connecting";
  markStale();
  retry();
}

function retry() {
  if (conn.stopped) return;
  conn.attempt++;
  const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** (conn.attempt - 1));
  conn.retryTimer = setTimeout(open, base * (0.8 + Math.random() * 0.4));
  renderConn();
}

// reconnectNow skips the backoff when the tablet is back on the network or
// back in the hand.
function reconnectNow() {
  if (conn.stopped || conn.ws || conn.opening) return;
  clearTimeout(conn.retryTimer);
  open();
}

function send(msg) {
  const ws = conn.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || !conn.helloed) return false;
  ws.send(JSON.stringify(msg));
  return true;
}

function heartbeat() {
  const ws = conn.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  if (Date.now() - conn.lastRx > DEAD_AFTER) {
    // No pong: the network went away without closing the socket.
    conn.ws = null;
    ws.close();
    lost();
    return;
  }
  if (conn.state === "live") send({ type: "ping" });
}

function onMessage(ws, data) {
  let m;
  try {
    m = JSON.parse(data);
  } catch {
    return;
  }
  conn.lastRx = Date.now();
  switch (m.type) {
    case "hello": {
      const st = Date.parse(m.server_time);
      if (!Number.isNaN(st)) conn.skew = st - Date.now();
      if (ui.me && m.staff && m.staff.id !== ui.me.id) {
        // Another login replaced this tablet's session.
        sessionEnded(t("login.expired"));
        return;
      }
      if (m.branch) ui.branch = m.branch;
      if (ui.me && m.staff && m.staff.name) ui.me.name = m.staff.name;
      renderWho();
      conn.helloed = true;
      conn.attempt = 0;
      conn.state = "syncing";
      feed.startSync();
      ws.send(JSON.stringify({ type: "resume", after_seq: feed.lastSeq }));
      ws.send(JSON.stringify({ type: "ping" }));
      renderConn();
      break;
    }
    case "pong":
      if (feed.syncing) {
        feed.synced();
        conn.state = "live";
        conn.everLive = true;
        conn.lostAt = null;
        markStale();
        renderConn();
      }
      break;
    case "arrival":
    case "visit":
    case "device":
    case "state":
      render(feed.apply(m, serverNow()));
      break;
    case "error":
      onServerError(m);
      break;
  }
}

function onServerError(m) {
  if (m.code === "unauthorized") {
    sessionEnded(serverText(m.message));
    return;
  }
  if (m.visit && ui.pending.has(m.visit)) {
    clearTimeout(ui.pending.get(m.visit).timer);
    ui.pending.delete(m.visit);
    if (ui.els.has(m.visit)) renderCard(m.visit);
  }
  toast(serverText(m.message));
}

// act sends claim, release or outcome for a visit and shows it pending
// until the visit message (or an error) comes back.
function act(visitId, msg) {
  if (!send(msg)) {
    toast(t("toast.offline"));
    return;
  }
  const old = ui.pending.get(visitId);
  if (old) clearTimeout(old.timer);
  const timer = setTimeout(() => {
    ui.pending.delete(visitId);
    if (ui.els.has(visitId)) renderCard(visitId);
    toast(t("toast.timeout"));
  }, PENDING_TIMEOUT);
  ui.pending.set(visitId, { type: msg.type, result: msg.result || "", timer });
  renderCard(visitId);
}

// fetchNames looks up staff display names for "claimed by", at most every
// NAMES_EVERY ms. Unknown ids are shown as they are.
function fetchNames() {
  if (!ui.me || ui.namesTimer) return;
  const wait = Math.max(0, ui.namesAt + NAMES_EVERY - Date.now());
  ui.namesTimer = setTimeout(async () => {
    ui.namesAt = Date.now();
    let list = null;
    try {
      const r = await fetch("/pad/staff", { cache: "no-store", credentials: "same-origin" });
      if (r.ok) list = (await r.json()).staff;
    } catch {
      // Offline: try again with the next unknown name.
    }
    ui.namesTimer = 0;
    if (!ui.me || !Array.isArray(list)) return;
    let changed = false;
    for (const s of list) {
      if (s && s.id && s.name && ui.names.get(s.id) !== s.name) {
        ui.names.set(s.id, s.name);
        changed = true;
      }
    }
    if (changed) for (const id of ui.els.keys()) renderCard(id);
  }, wait);
}

function staffName(id) {
  const n = ui.names.get(id);
  if (n) return n;
  fetchNames();
  return id;
}

// -------------------------------------------------------------- rendering

function render(ch) {
  if (ch.all) {
    for (const [id, e] of ui.els) {
      if (!feed.cards.has(id)) {
        e.el.remove();
        ui.els.delete(id);
      }
    }
    for (const id of feed.cards.keys()) renderCard(id);
  }
  for (const id of ch.removed) {
    const e = ui.els.get(id);
    if (e) e.el.remove();
    ui.els.delete(id);
    const p = ui.pending.get(id);
    if (p) clearTimeout(p.timer);
    ui.pending.delete(id);
  }
  for (const id of ch.cards) {
    const p = ui.pending.get(id);
    if (p) {
      clearTimeout(p.timer);
      ui.pending.delete(id);
    }
    renderCard(id, !ui.els.has(id) && conn.state === "live");
  }
  if (ch.devices) renderDevices();
  layout();
}

// renderCard (re)builds the card of a visit in place.
function renderCard(id, fresh = false) {
  const c = feed.cards.get(id);
  if (!c) return;
  let e = ui.els.get(id);
  if (!e) {
    e = { el: h("article", "card"), since: null };
    ui.els.set(id, e);
  }
  const { visit: v, profile: p } = c;
  const me = ui.me ? ui.me.id : "";
  const role = ui.me ? ui.me.role : "";
  const newFace = !p || p.new_face;
  const cls = ["card"];
  if (!p) cls.push("no-profile");
  else if (p.new_face) cls.push("new-face");
  else cls.push("tier-" + p.tier);
  if (p && p.your_customer) cls.push("yours");
  if (v.claimed_by === me) cls.push("mine");
  else if (v.claimed_by) cls.push("claimed");
  if (v.outcome) cls.push("handled");
  if (v.converted) cls.push("converted");
  if (fresh) cls.push("fresh");
  e.el.className = cls.join(" ");

  // Head: name, tier, your customer, time since arrival.
  const head = h("header", "card-head");
  const who = h("div", "who-line");
  if (!p) who.append(h("span", "cname muted", t("card.noProfile")));
  else if (p.new_face) who.append(h("span", "cname", t("card.newFace")));
  else who.append(h("span", "cname", p.display_name));
  if (p && !p.new_face && p.tier) who.append(h("span", "tier tier-" + p.tier, label("tier", p.tier)));
  if (p && p.your_customer) who.append(h("span", "badge yours-badge", "★ " + t("card.yourCustomer")));
  head.append(who);
  e.since = h("span", "since");
  e.since.textContent = sinceText(v);
  head.append(e.since);

  const where = h("div", "where");
  for (const tp of (v.touchpoints || []).slice(-3)) {
    const s = h("span", "tp ch-" + tp.channel + (tp.refused ? " tp-refused" : ""));
    s.append(h("b", null, label("channel", tp.channel)), " " + tp.device + " · " + hhmm(tp.at));
    // A scan of an old or forged code: the customer may not be here.
    if (tp.refused) s.append(" · " + t("card.scanRefused"));
    where.append(s);
  }

  const body = h("div", "card-body");
  // Mobile banking: the lobby's first question, so it comes first and big.
  if (v.converted) {
    body.append(h("div", "mbank conv-" + v.converted, "✓ " + t("card.mbank") + " " + label("conversion", v.converted)));
  } else if (p && !p.new_face && p.mbank_status) {
    body.append(h("div", "mbank mb-" + p.mbank_status, t("card.mbank") + " · " + label("mbank", p.mbank_status)));
  } else if (newFace && p) {
    body.append(h("div", "mbank mb-newface", t("card.newFaceHint")));
  }
  if (p && p.opt_out) {
    const o = h("div", "optout");
    o.append(h("b", null, t("card.optOut")), " " + t("card.optOutHint"));
    body.append(o);
  }
  if (p && !p.new_face) {
    const tags = topTags(p.tags, role);
    if (tags.length || p.lifecycle) {
      const row = h("ul", "tags");
      for (const tg of tags) row.append(h("li", "tag kind-" + tg.kind, getLang() === "en" && tg.name_en ? tg.name_en : tg.name));
      if (p.lifecycle && role !== "lobby") row.append(h("li", "tag life", label("lifecycle", p.lifecycle)));
      body.append(row);
    }
    for (const mt of (p.maturities || []).slice(0, 2)) {
      const d = h("div", "maturity");
      d.append(h("b", null, label("product", mt.product)), " " + t("card.matures", { date: mt.date.slice(5) }));
      body.append(d);
    }
  }
  // Once the e-code scan converted the customer, asking them to scan is
  // done: the card says so instead of repeating the request.
  // Account-manager actions speak to the customer's own manager ("your
  // customer has arrived"): other staff would misread them.
  const actions = orderActions(c.actions, role).filter((a) =>
    !(v.converted && a.code === "guide_ecode_scan") &&
    !(a.role === "account" && !(p && p.your_customer) && role !== "supervisor"));
  if (actions.length) {
    body.append(actionBox(actions[0], true));
    if (actions.length > 1) {
      const more = h("details", "more");
      more.append(h("summary", null, t("card.moreActions", { n: actions.length - 1 })));
      for (const a of actions.slice(1)) more.append(actionBox(a, false));
      body.append(more);
    }
  }

  e.el.replaceChildren(head, where, body, workRow(id, v, role, me));
}

function actionBox(a, first) {
  const box = h("section", first ? "action first" : "action");
  const title = h("div", "action-title");
  title.append(h("span", null, a.title));
  if (a.role) title.append(h("span", "role-chip", label("role", a.role)));
  box.append(title);
  if (a.script) {
    const s = h("p", "script");
    s.append(h("span", "script-label", t("card.script")), a.script);
    box.append(s);
  }
  if (a.reason) box.append(h("p", "reason", t("card.reason") + a.reason));
  return box;
}

// workRow is claim/release and the outcome buttons.
function workRow(id, v, role, me) {
  const foot = h("footer", "work");
  const pend = ui.pending.get(id);
  const claimRow = h("div", "claim-row");
  const status = h("span", "claim-status");
  if (!v.claimed_by) status.textContent = t("card.unclaimed");
  else if (v.claimed_by === me) status.textContent = t("card.claimedByMe");
  else status.textContent = t("card.claimedBy", { name: staffName(v.claimed_by) });
  claimRow.append(status);
  const supervisor = role === "supervisor";
  if (!v.claimed_by) {
    const b = button("primary claim", t("card.claim"), () => act(id, { type: "claim", visit: id }));
    claimRow.append(b);
  } else if (v.claimed_by === me || supervisor) {
    claimRow.append(button("secondary release", t("card.release"), () => act(id, { type: "release", visit: id })));
  }
  if (pend) {
    for (const b of claimRow.querySelectorAll("button")) b.disabled = true;
    claimRow.append(h("span", "pending", t("card.pending")));
  }
  foot.append(claimRow);

  if (v.outcome) foot.append(h("div", "outcome-set", t("card.outcomeSet", { o: label("outcome", v.outcome) })));
  if (v.claimed_by === me || (supervisor && v.claimed_by)) {
    const row = h("div", "outcomes");
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", t("card.outcome"));
    for (const o of OUTCOMES) {
      const b = button("outcome o-" + o, label("outcome", o), () => act(id, { type: "outcome", visit: id, result: o }));
      b.setAttribute("aria-pressed", String(v.outcome === o));
      if (pend) b.disabled = true;
      row.append(b);
    }
    foot.append(row);
  }
  return foot;
}

function sinceText(v) {
  const at = Date.parse(v.opened_at);
  return Number.isNaN(at) ? "" : since(serverNow() - at);
}

function tick() {
  for (const [id, e] of ui.els) {
    const c = feed.cards.get(id);
    if (c && e.since) e.since.textContent = sinceText(c.visit);
  }
}

// layout orders the cards newest first, applies the filter and counts.
function layout() {
  const list = $("cards");
  const me = ui.me ? ui.me.id : "";
  const counts = Object.fromEntries(FILTERS.map((f) => [f, 0]));
  let prev = null;
  let shown = 0;
  for (const [id, c] of feed.sorted()) {
    const e = ui.els.get(id);
    if (!e) continue;
    for (const f of FILTERS) if (matches(f, c, me)) counts[f]++;
    const show = matches(ui.filter, c, me);
    e.el.hidden = !show;
    if (show) shown++;
    const ref = prev ? prev.nextSibling : list.firstChild;
    if (ref !== e.el) list.insertBefore(e.el, ref);
    prev = e.el;
  }
  for (const b of $("filters").children) {
    const f = b.dataset.filter;
    b.querySelector(".count").textContent = String(counts[f] ?? 0);
    b.setAttribute("aria-selected", String(f === ui.filter));
  }
  const empty = $("empty");
  empty.hidden = shown > 0 || !ui.me;
  empty.textContent = feed.cards.size === 0 ? t("empty.all") : t("empty.filter");
}

function renderFilters() {
  const nav = $("filters");
  nav.replaceChildren();
  for (const f of FILTERS) {
    const b = h("button", "filter");
    b.type = "button";
    b.dataset.filter = f; // a filter name, not data
    b.setAttribute("role", "tab");
    b.append(h("span", "flabel", t("filter." + f)), h("span", "count", "0"));
    b.addEventListener("click", () => {
      ui.filter = f;
      layout();
    });
    nav.append(b);
  }
}

function renderWho() {
  if (!ui.me) return;
  $("who-name").textContent = ui.me.name || ui.me.id;
  $("who-role").textContent = label("role", ui.me.role);
  $("branch").textContent = ui.branch;
}

const CHANNEL_ORDER = { counter: 0, ecode: 1, wheel: 2 };

function renderDevices() {
  const list = $("devices");
  list.replaceChildren();
  const devs = [...feed.devices.values()].sort(
    (a, b) => (CHANNEL_ORDER[a.channel] ?? 9) - (CHANNEL_ORDER[b.channel] ?? 9) || a.device.localeCompare(b.device),
  );
  if (!devs.length) {
    list.append(h("li", "device none", t("devices.none")));
    return;
  }
  for (const d of devs) {
    const li = h("li", "device " + (d.status === "online" ? "on" : "off"));
    li.append(h("span", "dot"), h("span", "dname", (d.channel ? label("channel", d.channel) + " " : "") + d.device));
    const st = d.status === "online" ? t("device.online") : d.since ? t("device.offlineSince", { t: hhmm(d.since) }) : t("device.offline");
    li.append(h("span", "dstate", st));
    list.append(li);
  }
}

function renderConn() {
  const el = $("conn");
  const text = $("conn-text");
  const banner = $("banner");
  const offline = navigator.onLine === false;
  el.className = "conn " + conn.state;
  let bannerText = "";
  switch (conn.state) {
    case "live":
      text.textContent = t("conn.live");
      break;
    case "syncing":
      text.textContent = t("conn.syncing");
      if (conn.lostAt) bannerText = t("banner.syncing", { t: hhmm(conn.lostAt) });
      break;
    case "reconnecting":
      text.textContent = t("conn.reconnecting") + " · " + t("conn.staleSince", { t: hhmm(conn.lostAt) });
      bannerText = offline ? t("banner.offline", { t: hhmm(conn.lostAt) }) : t("banner.lost", { n: conn.attempt, t: hhmm(conn.lostAt) });
      break;
    default:
      text.textContent = t("conn.connecting");
  }
  banner.textContent = bannerText;
  banner.hidden = !bannerText;
  banner.className = "banner " + conn.state;
}

function markStale() {
  $("cards").classList.toggle("stale", !!conn.lostAt);
  renderConn();
}

function toast(text) {
  if (!text) return;
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(ui.toastTimer);
  ui.toastTimer = setTimeout(() => {
    el.hidden = true;
    el.textContent = "";
  }, 4000);
}

boot();
