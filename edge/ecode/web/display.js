// The e-code display page (edge/ecode): it fetches the display's next code
// when the current one's window ends and swaps the QR image only once the
// new image has loaded, so the screen never shows a blank or a half-drawn
// code. When the edge cannot be reached it keeps the code while that code
// is still accepted, then hides it: a code that would be refused must not
// stay on the wall.
"use strict";

(() => {
  const body = document.body;
  const display = body.dataset.display;
  const period = Number(body.dataset.period) * 1000;
  const qr = document.getElementById("qr");
  const state = document.getElementById("state");
  const countdown = document.getElementById("countdown");
  let skew = Number(body.dataset.now) - Date.now(); // server clock − this clock, ms
  let refreshAt = Number(body.dataset.refresh);
  let timer = 0;
  let failures = 0;

  const now = () => Date.now() + skew;

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, Math.max(ms, 0));
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
    try {
      const r = await fetch("/ecode/" + encodeURIComponent(display) + "/code.json", { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const c = await r.json();
      qr.src = await load(c.qr);
      skew = Date.parse(c.server_time) - Date.now();
      refreshAt = Date.parse(c.refresh_at);
      failures = 0;
      // A little after the rotation, so that the edge is surely in the
      // next window too.
      schedule(refreshAt - now() + 200);
    } catch {
      failures++;
      schedule(Math.min(500 * 2 ** failures, 10000));
    }
    render();
  }

  function render() {
    const left = refreshAt - now();
    // The old code is still accepted for a period after its window; show
    // it for half of that at most while the edge does not answer.
    const stale = left < -period / 2;
    qr.hidden = stale;
    state.hidden = !stale;
    state.textContent = stale ? "正在更新，请稍候 / Updating, please wait" : "";
    const s = Math.max(0, Math.ceil(left / 1000));
    countdown.textContent = stale ? "" : `${s} 秒后更新 · refreshes in ${s} s`;
  }

  schedule(refreshAt - now() + 200);
  setInterval(render, 250);
  render();
})();
