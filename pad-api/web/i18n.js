// Words the PAD shows, Chinese first (DESIGN.md, "PAD contract": Chinese
// first with an English switch). The language choice is the only thing the
// app keeps in the browser's storage: it is not personal data.
//
// The code lists (tiers, mobile-banking statuses, channels, outcomes, roles,
// lifecycle stages, products) mirror the Go domain types; pad-api's
// web_test.go keeps them complete.

const STORAGE_KEY = "huiyan.lang";

const zh = {
  "app.title": "慧眼迎客 · 营销PAD",
  "app.short": "慧眼迎客",
  "lang.switch": "English",
  "login.heading": "员工登录",
  "login.hint": "请使用本人工号与密码登录，勿与他人共用。",
  "login.staff": "工号",
  "login.pin": "密码",
  "login.submit": "登录",
  "login.busy": "正在登录…",
  "login.required": "请输入工号和密码",
  "login.bad": "工号或密码错误，请重新输入",
  "login.limited": "密码错误次数过多，已暂时锁定，请 {m} 分钟后再试",
  "login.network": "无法连接网点服务器，请检查网络后重试",
  "login.failed": "登录失败：{msg}",
  "login.expired": "登录已过期，请重新登录",
  "login.loggedOut": "您已退出登录",
  "logout": "退出",
  "conn.connecting": "连接中…",
  "conn.syncing": "同步中…",
  "conn.live": "实时",
  "conn.reconnecting": "重连中",
  "conn.staleSince": "数据停留在 {t}",
  "banner.lost": "与网点服务器的连接已断开，正在自动重连（第 {n} 次）。以下信息停留在 {t}，可能已过时。",
  "banner.syncing": "已重新连接，正在同步 {t} 以来的到店信息…",
  "banner.offline": "平板未连接网络。以下信息停留在 {t}，可能已过时。",
  "devices": "设备",
  "devices.none": "暂无设备上报状态",
  "device.online": "在线",
  "device.offline": "离线",
  "device.offlineSince": "{t} 起离线",
  "filter.mine": "我的",
  "filter.all": "全部",
  "filter.activation": "待促活",
  "filter.vip": "贵宾/理财",
  "filter.unclaimed": "未认领",
  "empty.all": "暂无到店客户。客户在超级柜台插卡、扫网点e码或参与转盘后，会立即显示在这里。",
  "empty.filter": "当前筛选下没有客户",
  "card.newFace": "新面孔",
  "card.newFaceHint": "未匹配到本行客户信息 · 拉新机会",
  "card.scanRefused": "码已失效，可能不在网点",
  "card.noProfile": "客户信息不可见",
  "card.yourCustomer": "您的客户",
  "card.optOut": "仅业务协助",
  "card.optOutHint": "客户已退出个性化营销，请勿推荐产品",
  "card.mbank": "掌银",
  "card.claim": "认领",
  "card.release": "释放",
  "card.claimedByMe": "我正在接待",
  "card.claimedBy": "{name} 正在接待",
  "card.unclaimed": "尚无人接待",
  "card.outcome": "接待结果",
  "card.outcomeSet": "结果：{o}",
  "card.script": "话术",
  "card.reason": "原因：",
  "card.moreActions": "更多建议（{n}）",
  "card.matures": "{date} 到期",
  "card.pending": "处理中…",
  "since.now": "刚刚",
  "since.s": "{s}秒前",
  "since.m": "{m}分钟前",
  "since.h": "{h}小时{m}分前",
  "toast.timeout": "服务器没有及时响应，请重试",
  "toast.offline": "连接已断开，恢复后请重试",
  // The staff member's own marketing code (mycode.js).
  "mycode.open": "我的营销码",
  "mycode.title": "我的营销码",
  "mycode.hint": "请客户用手机银行扫描此码：激活计入您的业绩。此码每 {p} 秒更新，截图或转发无效。",
  "mycode.refresh": "{s} 秒后更新",
  "mycode.loading": "加载中…",
  "mycode.failed": "营销码加载失败，正在重试…",
  "mycode.close": "关闭",
  "staff.role": "{role}",
  // The supervisor's branch report (report.js).
  "report.open": "报表",
  "report.close": "到店卡片",
  "report.title": "网点经营报表",
  "report.today": "今日",
  "report.week": "近7日",
  "report.refresh": "刷新",
  "report.updated": "更新于 {t}",
  "report.loading": "加载中…",
  "report.failed": "报表加载失败：{msg}",
  "report.range": "{from} 至 {to}",
  "report.arrivals": "到店客户",
  "report.recognised": "识别客户",
  "report.newFaces": "新面孔",
  "report.claimed": "已认领",
  "report.served": "已服务",
  "report.activation": "促活率",
  "report.activationOf": "促活 {n} / 待促活 {d}",
  "report.newUser": "拉新率",
  "report.newUserOf": "拉新 {n} / 未开通掌银 {d}",
  "report.claimTime": "认领用时（中位）",
  "report.claimP90": "P90 {p}",
  "report.byChannel": "到店渠道",
  "report.channel": "渠道",
  "report.visits": "到店",
  "report.signals": "信号",
  "report.outcomes": "接待结果",
  "report.noOutcomes": "暂无接待结果",
  "report.byDay": "每日明细",
  "report.day": "日期",
  "report.staff": "员工排行",
  "report.rank": "名次",
  "report.name": "员工",
  "report.activated": "促活",
  "report.newUsers": "拉新",
  "report.claims": "认领",
  "report.servedN": "服务",
  "report.median": "认领中位",
  "report.noStaff": "暂无员工接待记录",
  "report.csv": "下载汇总CSV",
  "report.csvStaff": "下载员工CSV",
  "report.lag": "尚有 {n} 条记录待上传总行，总行报表将稍后一致",
  "report.sec": "{s}秒",
  "report.min": "{m}分{s}秒",
  "report.forbidden": "只有网点负责人可以查看报表",
};

const en = {
  "app.title": "Huiyan · Branch PAD",
  "app.short": "Huiyan",
  "lang.switch": "中文",
  "login.heading": "Staff login",
  "login.hint": "Log in with your own staff ID and PIN. Never share them.",
  "login.staff": "Staff ID",
  "login.pin": "PIN",
  "login.submit": "Log in",
  "login.busy": "Logging in…",
  "login.required": "Enter your staff ID and PIN",
  "login.bad": "Wrong staff ID or PIN. Please try again.",
  "login.limited": "Too many wrong PINs. Login is locked; try again in {m} min.",
  "login.network": "Cannot reach the branch server. Check the network and try again.",
  "login.failed": "Login failed: {msg}",
  "login.expired": "Your session has expired. Please log in again.",
  "login.loggedOut": "You have logged out.",
  "logout": "Log out",
  "conn.connecting": "Connecting…",
  "conn.syncing": "Syncing…",
  "conn.live": "Live",
  "conn.reconnecting": "Reconnecting",
  "conn.staleSince": "stale since {t}",
  "banner.lost": "Connection to the branch server lost; reconnecting (attempt {n}). What you see is from {t} and may be out of date.",
  "banner.syncing": "Reconnected; catching up on arrivals since {t}…",
  "banner.offline": "This tablet has no network. What you see is from {t} and may be out of date.",
  "devices": "Devices",
  "devices.none": "No device has reported yet",
  "device.online": "online",
  "device.offline": "offline",
  "device.offlineSince": "offline since {t}",
  "filter.mine": "Mine",
  "filter.all": "All",
  "filter.activation": "Needs activation",
  "filter.vip": "VIP / wealth",
  "filter.unclaimed": "Unclaimed",
  "empty.all": "No customers in the branch right now. A customer appears here as soon as they use a super-counter, scan the e-code or play the wheel.",
  "empty.filter": "No customers match this filter",
  "card.newFace": "New face",
  "card.newFaceHint": "Not a known customer · acquisition chance",
  "card.scanRefused": "old code, may not be here",
  "card.noProfile": "Profile not available",
  "card.yourCustomer": "Your customer",
  "card.optOut": "Service only",
  "card.optOutHint": "Opted out of marketing: do not recommend products",
  "card.mbank": "Mobile banking",
  "card.claim": "Claim",
  "card.release": "Release",
  "card.claimedByMe": "You are serving",
  "card.claimedBy": "{name} is serving",
  "card.unclaimed": "Nobody is serving yet",
  "card.outcome": "Outcome",
  "card.outcomeSet": "Outcome: {o}",
  "card.script": "Talk track",
  "card.reason": "Why: ",
  "card.moreActions": "More suggestions ({n})",
  "card.matures": "matures {date}",
  "card.pending": "Working…",
  "since.now": "just now",
  "since.s": "{s}s ago",
  "since.m": "{m} min ago",
  "since.h": "{h} h {m} min ago",
  "toast.timeout": "The server did not answer in time. Please try again.",
  "toast.offline": "Not connected. Try again when the connection is back.",
  "mycode.open": "My code",
  "mycode.title": "My marketing code",
  "mycode.hint": "Ask the customer to scan this with mobile banking: the activation is credited to you. It changes every {p} s; a screenshot or a forwarded copy does not count.",
  "mycode.refresh": "Refreshes in {s} s",
  "mycode.loading": "Loading…",
  "mycode.failed": "Could not load your code; retrying…",
  "mycode.close": "Close",
  "staff.role": "{role}",
  // The supervisor's branch report (report.js).
  "report.open": "Report",
  "report.close": "Arrivals",
  "report.title": "Branch report",
  "report.today": "Today",
  "report.week": "Last 7 days",
  "report.refresh": "Refresh",
  "report.updated": "Updated {t}",
  "report.loading": "Loading…",
  "report.failed": "Could not load the report: {msg}",
  "report.range": "{from} to {to}",
  "report.arrivals": "Arrivals",
  "report.recognised": "Recognised",
  "report.newFaces": "New faces",
  "report.claimed": "Claimed",
  "report.served": "Served",
  "report.activation": "Activation rate",
  "report.activationOf": "{n} activated of {d}",
  "report.newUser": "New-user rate",
  "report.newUserOf": "{n} new users of {d} without mobile banking",
  "report.claimTime": "Time to claim (median)",
  "report.claimP90": "p90 {p}",
  "report.byChannel": "Arrivals by channel",
  "report.channel": "Channel",
  "report.visits": "Visits",
  "report.signals": "Signals",
  "report.outcomes": "Outcomes",
  "report.noOutcomes": "No outcomes recorded yet",
  "report.byDay": "By day",
  "report.day": "Day",
  "report.staff": "Staff leaderboard",
  "report.rank": "#",
  "report.name": "Staff",
  "report.activated": "Activated",
  "report.newUsers": "New users",
  "report.claims": "Claims",
  "report.servedN": "Served",
  "report.median": "Median claim",
  "report.noStaff": "No staff activity yet",
  "report.csv": "Download CSV",
  "report.csvStaff": "Staff CSV",
  "report.lag": "{n} events still on their way to HQ; HQ's report catches up when they arrive",
  "report.sec": "{s} s",
  "report.min": "{m} min {s} s",
  "report.forbidden": "Only the branch supervisor can see reports",
};

// Code lists: [Chinese, English] per code.
const labels = {
  tier: {
    normal: ["普通", "Standard"],
    gold: ["金卡", "Gold"],
    platinum: ["白金", "Platinum"],
    diamond: ["钻石", "Diamond"],
    private: ["私行", "Private"],
  },
  mbank: {
    none: ["未开通", "not registered"],
    registered: ["已注册未使用", "registered, never used"],
    dormant: ["睡眠", "dormant"],
    active: ["活跃", "active"],
  },
  conversion: {
    activated: ["已激活", "Activated"],
    new_user: ["新开通", "New user"],
  },
  channel: {
    counter: ["超级柜台", "Super-counter"],
    ecode: ["网点e码", "E-code"],
    wheel: ["智惠转盘", "Prize wheel"],
  },
  outcome: {
    served: ["已服务", "Served"],
    activated: ["已促活", "Activated"],
    declined: ["婉拒", "Declined"],
    referred: ["已转介", "Referred"],
    follow_up: ["待跟进", "Follow up"],
    no_contact: ["未接触", "No contact"],
  },
  role: {
    lobby: ["大堂经理", "Lobby manager"],
    wealth: ["理财经理", "Wealth manager"],
    account: ["客户经理", "Account manager"],
    supervisor: ["网点负责人", "Supervisor"],
  },
  lifecycle: {
    onboarding: ["新手期", "onboarding"],
    growth: ["成长期", "growth"],
    mature: ["成熟期", "mature"],
    churning: ["流失期", "churning"],
    dormant: ["休眠期", "dormant"],
  },
  product: {
    td_3m: ["三个月定期存款", "3-month term deposit"],
    td_6m: ["六个月定期存款", "6-month term deposit"],
    td_1y: ["一年期定期存款", "1-year term deposit"],
    td_2y: ["两年期定期存款", "2-year term deposit"],
    td_3y: ["三年期定期存款", "3-year term deposit"],
    td_5y: ["五年期定期存款", "5-year term deposit"],
    ldcd_1y: ["一年期大额存单", "1-year large-denomination CD"],
    ldcd_3y: ["三年期大额存单", "3-year large-denomination CD"],
    wm_min_hold_30d: ["30天最短持有期理财", "30-day minimum-holding wealth product"],
    wm_closed_90d: ["90天封闭式理财", "90-day closed-end wealth product"],
    wm_closed_180d: ["180天封闭式理财", "180-day closed-end wealth product"],
    wm_closed_1y: ["一年期封闭式理财", "1-year closed-end wealth product"],
    wm_pension_5y: ["五年期养老理财", "5-year pension wealth product"],
    sd_3m: ["三个月结构性存款", "3-month structured deposit"],
    sd_6m: ["六个月结构性存款", "6-month structured deposit"],
    bond_savings_3y: ["三年期储蓄国债", "3-year savings bond"],
    bond_savings_5y: ["五年期储蓄国债", "5-year savings bond"],
    ins_endowment: ["两全保险满期", "Endowment insurance maturity"],
  },
};

// Outcomes in the order the buttons show them (huiyan.Outcomes).
export const OUTCOMES = ["served", "activated", "declined", "referred", "follow_up", "no_contact"];

const tables = { zh, en };
let lang = "zh";
try {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === "en" || saved === "zh") lang = saved;
} catch {
  // Storage may be disabled; Chinese it is.
}

export function getLang() {
  return lang;
}

export function setLang(l) {
  lang = l === "en" ? "en" : "zh";
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Not fatal: the choice lasts until the page is closed.
  }
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

// t returns the string for key in the current language with {name}
// placeholders filled from vars.
export function t(key, vars) {
  let s = tables[lang][key] ?? tables.zh[key] ?? key;
  if (vars) {
    for (const [k, v] of Object.entries(vars)) s = s.replaceAll("{" + k + "}", String(v));
  }
  return s;
}

// label returns the name of a code of a list (tier, mbank, channel, …), or
// the code itself when the list does not know it (a newer edge).
export function label(list, code) {
  const l = labels[list]?.[code];
  if (!l) return code || "";
  return lang === "en" ? l[1] : l[0];
}

// serverText picks the current language's half of a bilingual server
// message ("中文 / English").
export function serverText(msg) {
  const s = String(msg || "");
  const i = s.indexOf(" / ");
  if (i < 0) return s;
  return lang === "en" ? s.slice(i + 3) : s.slice(0, i);
}

// Times: the tablet's wall clock, 24 h.
export function hhmm(date) {
  const d = date instanceof Date ? date : new Date(date);
  if (Number.isNaN(d.getTime())) return "";
  return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
}

// since says how long ago ms milliseconds were.
export function since(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 10) return t("since.now");
  if (s < 60) return t("since.s", { s });
  const m = Math.floor(s / 60);
  if (m < 60) return t("since.m", { m });
  return t("since.h", { h: Math.floor(m / 60), m: m % 60 });
}

// applyStatic fills every element marked data-i18n with its string.
export function applyStatic(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  document.title = t("app.title");
}
