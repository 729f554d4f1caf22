// The PAD's picture of the branch, built only from the server's messages
// (pad-api/asyncapi.yaml): the open visits with their profiles and the
// devices. No DOM here. Cards are keyed by visit id, never by customer.
//
// Ordering. Every arrival, visit and device message is applied as an
// upsert, in the order received: after a resume the server restarts the
// stream after after_seq, so a message may come twice, and applying it again
// converges to the same state. The seq to resume from is advanced only once
// the PAD is known to be in sync (see Feed.synced), so a connection lost in
// the middle of a replay never skips anything.

const ACTIVATION = new Set(["none", "registered", "dormant"]);
const VIP_TIERS = new Set(["gold", "platinum", "diamond", "private"]);
const WEALTH_TAGS = new Set(["potential_vip", "churn_risk_vip"]);

// deviceChannel guesses a device's channel from its id when the server has
// not said (device messages carry none): sc-01, ecode-01, wheel-01.
export function deviceChannel(id) {
  if (/^sc[-_]/.test(id)) return "counter";
  if (/^ecode/.test(id)) return "ecode";
  if (/^wheel/.test(id)) return "wheel";
  return "";
}

export class Feed {
  constructor() {
    this.reset();
  }

  // reset forgets everything: logout, session end.
  reset() {
    this.cards = new Map(); // visit id → {visit, profile, actions, seen}
    this.devices = new Map(); // device id → {device, channel, status, since}
    this.lastSeq = 0; // resume point: everything up to it has been applied
    this.syncing = false;
    this.maxSeen = 0;
  }

  // startSync is called at hello, right before the resume is sent: until
  // synced, seqs are collected but lastSeq stays where it was.
  startSync() {
    this.syncing = true;
    this.maxSeen = this.lastSeq;
  }

  // synced is called at the pong that follows the resume: the server
  // answers messages in order, so the replay (or state) is complete.
  synced() {
    if (this.syncing) this.lastSeq = this.maxSeen;
    this.syncing = false;
  }

  seen(seq) {
    if (typeof seq !== "number") return;
    if (this.syncing) this.maxSeen = Math.max(this.maxSeen, seq);
    else this.lastSeq = seq;
  }

  // apply applies one server message and says what changed:
  // {cards: Set of visit ids upserted, removed: Set of visit ids, devices: bool, all: bool}.
  apply(m, now = Date.now()) {
    const ch = { cards: new Set(), removed: new Set(), devices: false, all: false };
    switch (m.type) {
      case "arrival": {
        const old = this.cards.get(m.visit.id);
        this.cards.set(m.visit.id, {
          visit: m.visit,
          profile: m.profile || null,
          actions: m.actions || [],
          seen: old ? old.seen : now,
        });
        ch.cards.add(m.visit.id);
        this.seen(m.seq);
        break;
      }
      case "visit": {
        const v = m.visit;
        if (v.closed_at) {
          if (this.cards.delete(v.id)) ch.removed.add(v.id);
        } else {
          const old = this.cards.get(v.id);
          this.cards.set(v.id, {
            visit: v,
            profile: m.profile || (old ? old.profile : null),
            actions: old ? old.actions : [],
            seen: old ? old.seen : now,
          });
          ch.cards.add(v.id);
        }
        this.seen(m.seq);
        break;
      }
      case "device": {
        const old = this.devices.get(m.device);
        this.devices.set(m.device, {
          device: m.device,
          channel: (old && old.channel) || deviceChannel(m.device),
          status: m.status,
          since: old && old.status === m.status ? old.since : new Date(now).toISOString(),
        });
        ch.devices = true;
        this.seen(m.seq);
        break;
      }
      case "state": {
        this.cards = new Map();
        for (const c of m.visits || []) {
          this.cards.set(c.visit.id, { visit: c.visit, profile: c.profile || null, actions: c.actions || [], seen: now });
        }
        this.devices = new Map();
        for (const d of m.devices || []) {
          this.devices.set(d.device, { device: d.device, channel: d.channel || deviceChannel(d.device), status: d.status, since: d.since });
        }
        ch.all = true;
        ch.devices = true;
        this.seen(m.seq);
        break;
      }
    }
    return ch;
  }

  // sorted returns the cards newest first.
  sorted() {
    return [...this.cards.entries()].sort((a, b) => opened(b[1]) - opened(a[1]));
  }
}

function opened(c) {
  const t = Date.parse(c.visit.opened_at);
  return Number.isNaN(t) ? c.seen : t;
}

// Filters (issue 4, "Filters that match the roles"). me is the staff id.
export const FILTERS = ["mine", "all", "activation", "vip", "unclaimed"];

export function matches(filter, c, me) {
  const p = c.profile;
  const v = c.visit;
  switch (filter) {
    case "mine":
      return v.claimed_by === me || !!(p && p.your_customer);
    case "activation":
      return !!p && !p.new_face && ACTIVATION.has(p.mbank_status) && !v.converted;
    case "vip":
      return !!p && (VIP_TIERS.has(p.tier) ||
        (p.tags || []).some((tg) => WEALTH_TAGS.has(tg.code)) ||
        (p.maturities || []).length > 0 ||
        (c.actions || []).some((a) => a.role === "wealth"));
    case "unclaimed":
      return !v.claimed_by;
    default:
      return true;
  }
}

// defaultFilter is where each role starts.
export function defaultFilter(role) {
  switch (role) {
    case "wealth":
      return "vip";
    case "account":
      return "mine";
    default:
      return "all";
  }
}

// topTags picks the few tags that matter for a role. The server sends tags
// in display priority (safety, predictions, mobile banking not active, VIP
// signals, …); the mobile-banking status tags are left out because the card
// shows the status on its own. Wealth managers see predictions first.
export function topTags(tags, role) {
  let list = (tags || []).filter((tg) => tg.kind !== "status");
  if (role === "wealth") {
    list = [...list.filter((tg) => tg.kind === "predictive"), ...list.filter((tg) => tg.kind !== "predictive")];
  }
  return list.slice(0, role === "lobby" ? 3 : 4);
}

// orderActions puts the actions for role first, then by priority.
export function orderActions(actions, role) {
  return [...(actions || [])].sort((a, b) => {
    const ra = a.role === role ? 0 : 1;
    const rb = b.role === role ? 0 : 1;
    return ra - rb || a.priority - b.priority;
  });
}
