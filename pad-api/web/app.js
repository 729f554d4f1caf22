// Placeholder PAD client: log in, open /pad/ws, show the raw messages.
// The real PAD app replaces it (DESIGN.md, "PAD contract").
"use strict";
const $ = (id) => document.getElementById(id);
let ws = null;
let lastSeq = Number(sessionStorage.getItem("lastSeq") || 0);

function show(text) {
  const log = $("log");
  log.textContent = text + "\n" + log.textContent.slice(0, 200000);
}

function loggedIn(info) {
  $("login").hidden = true;
  $("session").hidden = false;
  $("who").textContent = info.staff.name + " (" + info.staff.id + ", " + info.staff.role + ") · " + info.branch;
  connect();
}

function loggedOut(message) {
  if (ws) { ws.onclose = null; ws.close(); ws = null; }
  $("login").hidden = false;
  $("session").hidden = true;
  $("status").textContent = message || "";
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(proto + "//" + location.host + "/pad/ws");
  ws.onmessage = (ev) => {
    show(ev.data);
    const m = JSON.parse(ev.data);
    if (m.type === "hello") {
      ws.send(JSON.stringify({ type: "resume", after_seq: lastSeq }));
    } else if (m.type === "error" && m.code === "unauthorized") {
      loggedOut(m.message);
      return;
    }
    if (typeof m.seq === "number" && m.type !== "hello") {
      lastSeq = m.seq;
      sessionStorage.setItem("lastSeq", String(lastSeq));
    }
  };
  ws.onclose = () => {
    $("status").textContent = "连接断开，重连中 / disconnected, reconnecting";
    setTimeout(() => fetch("/pad/me").then((r) => (r.ok ? r.json().then(loggedIn) : loggedOut())), 2000);
  };
  ws.onopen = () => { $("status").textContent = ""; };
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const r = await fetch("/pad/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ staff: f.staff.value, pin: f.pin.value }),
  });
  const body = await r.json();
  f.pin.value = "";
  if (r.ok) loggedIn(body); else $("status").textContent = body.message;
});

$("logout").addEventListener("click", async () => {
  await fetch("/pad/logout", { method: "POST" });
  loggedOut();
});

fetch("/pad/me").then((r) => (r.ok ? r.json().then(loggedIn) : loggedOut()));
