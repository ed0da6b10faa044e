// The demo workspace's page: renders Block Kit with DOM nodes only (never innerHTML
// from data), long-polls /state, and sends people's clicks to /ui/* (the workspace
// turns them into the signed requests Slack would send to the app).
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let me = params.get("as") || localStorage.getItem("demo-agent") || "";
let snap = null;
let version = -1;
let current = { kind: "channel", id: null }; // or { kind: "home" }
let thread = null; // { channel, ts }
let shownModalKey = null;
let pollAbort = null;
let pendingJump = null; // { channel, ts, threadTs }: a permalink to show once the message is there
let shownMain = null; // what the main pane showed last ("channel:C…", "home"): a switch scrolls afresh
let restoring = false; // true while a re-rendered modal gets back what was typed: that is no typing

// ---------- small DOM helpers ----------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k.startsWith("data-") || k.startsWith("aria-") || ["id", "type", "role", "title", "placeholder", "name", "for", "href", "target", "rel", "src", "alt", "value"].includes(k)) node.setAttribute(k, v === true ? "" : String(v));
    else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  // Offline, remote avatars cannot load: hide them instead of showing a broken image.
  if (tag === "img") node.addEventListener("error", () => { node.style.display = "none"; });
  return node;
}

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.classList.remove("hidden");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.add("hidden"), 5000);
}

function unescapeSlack(s) {
  return String(s).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function safeHref(url) {
  const u = unescapeSlack(url).trim();
  return /^(https?:|mailto:)/i.test(u) ? u : null;
}

function userName(id) {
  const u = snap && snap.users && snap.users[id];
  return u ? u.name : id;
}

function myId() {
  return snap ? snap.user : null;
}

function channelName(id) {
  const names = (snap && snap.channel_names) || {};
  return names[id] || null;
}

// ---------- links into the workspace (permalinks) ----------
// A permalink is /archives/<channel>/p<ts without its dot>[?thread_ts=…], on the workspace's own address.
function archiveTarget(href) {
  let u;
  try { u = new URL(href, location.href); } catch { return null; }
  if (u.origin !== location.origin) return null;
  const m = u.pathname.match(/^\/archives\/([A-Z0-9]+)\/p(\d{7,})$/);
  if (!m) return null;
  const digits = m[2];
  const ts = `${digits.slice(0, -6)}.${digits.slice(-6)}`;
  const threadTs = u.searchParams.get("thread_ts");
  return { channel: m[1], ts, threadTs: threadTs && threadTs !== ts ? threadTs : null };
}

function jumpTo(target) {
  pendingJump = target;
  if (snap) {
    const ch = channelById(target.channel);
    if (ch && !ch.is_im) current = { kind: "channel", id: ch.id };
    else if (ch) current = { kind: "home" };
    thread = target.threadTs ? { channel: target.channel, ts: target.threadTs } : null;
    render();
  }
}

// Shows the permalink's message once it is rendered: scrolled to and highlighted for a moment.
function finishJump() {
  if (!pendingJump || !snap) return;
  const where = pendingJump.threadTs ? "#thread-messages" : "#messages";
  const node = document.querySelector(`${where} [data-ts="${CSS.escape(pendingJump.ts)}"]`);
  if (!node) {
    if (!channelById(pendingJump.channel)) { toast("That message is in a channel you are not in."); pendingJump = null; }
    return;
  }
  pendingJump = null;
  node.scrollIntoView({ block: "center" });
  node.classList.add("highlight");
  setTimeout(() => node.classList.remove("highlight"), 2500);
}

// Opens a link the way Slack does: a permalink in the page, anything else in a new tab.
function openLink(href) {
  const target = archiveTarget(href);
  if (target) jumpTo(target);
  else window.open(href, "_blank", "noopener");
}

function link(href, text) {
  const a = el("a", { href, target: "_blank", rel: "noopener noreferrer", text });
  if (archiveTarget(href)) {
    a.removeAttribute("target");
    a.classList.add("permalink");
    a.addEventListener("click", (e) => { e.preventDefault(); openLink(href); });
  }
  return a;
}

// ---------- mrkdwn ----------
const INLINE = /<([^<>\n]+)>|`([^`\n]+)`|\*([^*\n]+)\*|_([^_\n]+)_|~([^~\n]+)~/g;
const WORD = /[A-Za-z0-9]/;

function inline(text, parent) {
  // A regex of its own per call: the recursive calls for *bold* etc. must not move ours.
  const re = new RegExp(INLINE.source, "g");
  let last = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const end = start + m[0].length;
    const styled = m[3] !== undefined || m[4] !== undefined || m[5] !== undefined;
    if (styled) {
      const before = start > 0 ? text[start - 1] : "";
      const after = end < text.length ? text[end] : "";
      const inner = m[3] ?? m[4] ?? m[5];
      if ((before && WORD.test(before)) || (after && WORD.test(after)) || /^\s|\s$/.test(inner)) {
        re.lastIndex = start + 1;
        continue;
      }
    }
    if (start > last) parent.append(document.createTextNode(unescapeSlack(text.slice(last, start))));
    if (m[1] !== undefined) parent.append(special(m[1]));
    else if (m[2] !== undefined) parent.append(el("code", { text: unescapeSlack(m[2]) }));
    else if (m[3] !== undefined) inline(m[3], parent.appendChild(el("b")));
    else if (m[4] !== undefined) inline(m[4], parent.appendChild(el("i")));
    else inline(m[5], parent.appendChild(el("s")));
    last = end;
  }
  if (last < text.length) parent.append(document.createTextNode(unescapeSlack(text.slice(last))));
}

function special(inner) {
  const bar = inner.indexOf("|");
  const target = bar >= 0 ? inner.slice(0, bar) : inner;
  const label = bar >= 0 ? inner.slice(bar + 1) : null;
  if (target.startsWith("@")) return el("span", { class: "mention", text: "@" + (label || userName(target.slice(1))) });
  if (target.startsWith("#")) {
    // <#C…> or <#C…|name>: Slack shows the channel's name, and a click opens the channel.
    const id = target.slice(1);
    const name = label || channelName(id) || id;
    const node = el("a", { href: "#", class: "mention channel-link", "data-channel-id": id, text: "#" + name });
    node.addEventListener("click", (e) => {
      e.preventDefault();
      if (channelById(id)) { current = { kind: "channel", id }; thread = null; render(); }
      else toast(`You are not in #${name}.`);
    });
    return node;
  }
  if (target.startsWith("!date^")) {
    const parts = target.split("^");
    const text = slackDate(Number(parts[1]), parts[2]) || unescapeSlack(label || new Date(Number(parts[1]) * 1000).toLocaleString());
    const href = parts[3] ? safeHref(parts[3]) : null;
    const node = href ? link(href, text) : el("span", { class: "date", title: new Date(Number(parts[1]) * 1000).toString(), text });
    if (slackDate(Number(parts[1]), parts[2])) { node.dataset.epoch = parts[1]; node.dataset.format = parts[2]; }
    return node;
  }
  if (target.startsWith("!subteam^")) return el("span", { class: "mention", text: "@" + (label || "group") });
  if (target.startsWith("!")) return el("span", { class: "mention", text: "@" + (label || target.slice(1)) });
  const href = safeHref(target);
  const text = unescapeSlack(label || target);
  return href ? link(href, text) : document.createTextNode(text);
}

// <!date^EPOCH^FORMAT|fallback>: Slack writes the time in the reader's own zone and language,
// with these tokens; an unknown token leaves the fallback.
function slackDate(epoch, format) {
  if (!Number.isFinite(epoch) || !format) return null;
  const when = new Date(epoch * 1000);
  const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(when) - day(new Date())) / 86400000);
  const relative = { 0: "Today", [-1]: "Yesterday", 1: "Tomorrow" }[days];
  const dateOf = (opts) => when.toLocaleDateString(undefined, opts);
  const long = { weekday: "long", month: "long", day: "numeric", year: "numeric" };
  const plain = { month: "long", day: "numeric", year: "numeric" };
  const short = { month: "short", day: "numeric", year: "numeric" };
  const ago = () => {
    const secs = Math.round((Date.now() - when.getTime()) / 1000);
    const future = secs < 0;
    const n = Math.abs(secs);
    const [value, unit] = n < 60 ? [n, "second"] : n < 3600 ? [Math.floor(n / 60), "minute"]
      : n < 86400 ? [Math.floor(n / 3600), "hour"] : [Math.floor(n / 86400), "day"];
    if (unit === "second" && n < 10) return future ? "in a few seconds" : "just now";
    const text = `${value} ${unit}${value === 1 ? "" : "s"}`;
    return future ? `in ${text}` : `${text} ago`;
  };
  const tokens = {
    date_num: () => `${when.getFullYear()}-${String(when.getMonth() + 1).padStart(2, "0")}-${String(when.getDate()).padStart(2, "0")}`,
    date: () => dateOf(plain), date_short: () => dateOf(short), date_long: () => dateOf(long),
    date_pretty: () => relative || dateOf(plain), date_short_pretty: () => relative || dateOf(short),
    date_long_pretty: () => relative || dateOf(long),
    time: () => when.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }),
    time_secs: () => when.toLocaleTimeString([], { hour: "numeric", minute: "2-digit", second: "2-digit" }),
    ago,
  };
  let unknown = false;
  const out = format.replace(/\{([a-z_]+)\}/g, (whole, name) => {
    if (!tokens[name]) { unknown = true; return whole; }
    return tokens[name]();
  });
  return unknown ? null : unescapeSlack(out);
}

function mrkdwn(text) {
  const frag = document.createDocumentFragment();
  const lines = String(text || "").split("\n");
  let quote = null;
  lines.forEach((line, i) => {
    const q = line.match(/^(>|&gt;)\s?(.*)$/);
    if (q && line.startsWith(">")) {
      if (!quote) { quote = el("blockquote"); frag.append(quote); }
      else quote.append(el("br"));
      inline(q[2], quote);
      return;
    }
    quote = null;
    inline(line, frag);
    if (i < lines.length - 1 && !(i + 1 < lines.length && lines[i + 1].startsWith(">"))) frag.append(el("br"));
  });
  return frag;
}

function textObj(obj) {
  if (!obj) return document.createTextNode("");
  if (typeof obj === "string") return document.createTextNode(obj);
  if (obj.type === "mrkdwn") return mrkdwn(obj.text);
  return document.createTextNode(obj.text || "");
}

function plain(obj) {
  if (!obj) return "";
  return typeof obj === "string" ? obj : obj.type === "mrkdwn" ? unescapeSlack(obj.text || "") : obj.text || "";
}

// ---------- talking to the workspace ----------
async function ui(action, body) {
  try {
    const resp = await fetch("/ui/" + action, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: me, ...body }),
    });
    const data = await resp.json();
    if (!data.ok) toast(data.error || `The app answered ${data.status}`);
    return data;
  } catch (err) {
    toast("The workspace did not answer: " + err);
    return { ok: false };
  }
}

// ---------- interactive elements ----------
// `elem` is the element as the page showed it: if the message or view changed since, the
// workspace still sends this click (as Slack does), and the app answers it.
function sendAction(ctx, blockId, actionId, value, elem) {
  const body = { block_id: blockId, action_id: actionId, value, element: elem || null };
  if (ctx.viewId) {
    body.view_id = ctx.viewId;
    if (ctx.kind === "modal") body.values = collectValues();
    else if (ctx.kind === "home") body.values = collectValues('[data-testid="home-view"]');
  } else {
    body.channel = ctx.channel;
    body.message_ts = ctx.ts;
    body.ephemeral = !!ctx.ephemeral;
  }
  return ui("click", body);
}

function button(elem, ctx, blockId, idx) {
  const actionId = elem.action_id || `a${idx}`;
  const cls = "btn" + (elem.style ? " " + elem.style : "");
  const b = el("button", { type: "button", class: cls, "data-action-id": actionId, text: plain(elem.text) });
  b.addEventListener("click", async () => {
    const href = elem.url && safeHref(elem.url);
    if (href) openLink(href);
    b.disabled = true;
    try { await sendAction(ctx, blockId, actionId, elem.value, elem); } finally { b.disabled = false; }
  });
  return b;
}

function overflow(elem, ctx, blockId, idx) {
  const actionId = elem.action_id || `a${idx}`;
  const wrap = el("span", { class: "overflow" });
  const menu = el("div", { class: "overflow-menu hidden", role: "menu" });
  const toggle = el("button", { type: "button", class: "btn", "aria-label": "More actions", "data-action-id": actionId, "data-testid": "overflow", text: "⋮" });
  toggle.addEventListener("click", (e) => {
    e.stopPropagation();
    document.querySelectorAll(".overflow-menu").forEach((m) => { if (m !== menu) m.classList.add("hidden"); });
    menu.classList.toggle("hidden");
  });
  for (const opt of elem.options || []) {
    const item = el("button", { type: "button", role: "menuitem", "data-value": opt.value, text: plain(opt.text) });
    item.addEventListener("click", () => {
      menu.classList.add("hidden");
      const href = opt.url && safeHref(opt.url);
      if (href) openLink(href);
      sendAction(ctx, blockId, actionId, opt.value, elem);
    });
    menu.append(item);
  }
  wrap.append(toggle, menu);
  return wrap;
}

function options(elem) {
  const all = [...(elem.options || [])];
  for (const g of elem.option_groups || []) all.push(...(g.options || []));
  return all;
}

function humanUsers() {
  return Object.entries((snap && snap.users) || {}).filter(([, u]) => !u.is_bot);
}

// A select: in an actions block it dispatches on change; in an input block it's a value.
function select(elem, blockId, actionId, { multiple = false, onChange = null } = {}) {
  const s = el("select", { "data-block-id": blockId, "data-action-id": actionId, "aria-label": plain(elem.placeholder) || actionId });
  if (multiple) s.multiple = true;
  else s.append(el("option", { value: "", text: plain(elem.placeholder) || "Select an option" }));
  if (elem.type === "users_select" || elem.type === "multi_users_select") {
    for (const [id, u] of humanUsers()) {
      const o = el("option", { value: id, text: `${u.real_name || u.name} (@${u.name})` });
      if (elem.initial_user === id || (elem.initial_users || []).includes(id)) o.selected = true;
      s.append(o);
    }
  } else if (elem.type === "conversations_select" || elem.type === "multi_conversations_select") {
    for (const c of ((snap && snap.channels) || []).filter((c) => !c.is_im)) {
      const o = el("option", { value: c.id, text: `#${c.name}` });
      if (elem.initial_conversation === c.id || (elem.initial_conversations || []).includes(c.id)) o.selected = true;
      s.append(o);
    }
  } else {
    const initial = new Set([elem.initial_option && elem.initial_option.value, ...(elem.initial_options || []).map((o) => o.value)].filter(Boolean));
    for (const opt of options(elem)) {
      const o = el("option", { value: opt.value, text: plain(opt.text) });
      if (initial.has(opt.value)) o.selected = true;
      s.append(o);
    }
  }
  if (onChange) s.addEventListener("change", () => { if (s.value) onChange(s.value); });
  return s;
}

function actionElement(elem, ctx, blockId, idx) {
  const actionId = elem.action_id || `a${idx}`;
  switch (elem.type) {
    case "button": return button(elem, ctx, blockId, idx);
    case "overflow": return overflow(elem, ctx, blockId, idx);
    case "static_select": case "users_select": case "external_select":
      return select(elem, blockId, actionId, { onChange: (v) => sendAction(ctx, blockId, actionId, v, elem) });
    case "image": return el("img", { class: "accessory-image", src: safeHref(elem.image_url) || "", alt: elem.alt_text || "" });
    default: return el("span", { class: "muted", text: `[${elem.type}]` });
  }
}

// ---------- blocks ----------
function renderBlocks(blocks, ctx) {
  const frag = document.createDocumentFragment();
  (blocks || []).forEach((block, i) => frag.append(renderBlock(block, ctx, block.block_id || `b${i}`)));
  return frag;
}

function renderBlock(block, ctx, blockId) {
  const wrap = el("div", { class: "block block-" + block.type, "data-block": blockId });
  switch (block.type) {
    case "header":
      wrap.classList.add("block-header");
      wrap.textContent = plain(block.text);
      break;
    case "section": {
      const row = el("div", { class: "section" });
      const col = el("div", { class: "text" });
      if (block.text) col.append(textObj(block.text));
      if (block.fields) col.append(el("div", { class: "fields" }, block.fields.map((f) => el("div", {}, textObj(f)))));
      row.append(col);
      if (block.accessory) row.append(actionElement(block.accessory, ctx, blockId, 0));
      wrap.append(row);
      break;
    }
    case "context": {
      wrap.classList.add("context");
      for (const e of block.elements || []) {
        if (e.type === "image") wrap.append(el("img", { src: safeHref(e.image_url) || "", alt: e.alt_text || "" }));
        else wrap.append(el("span", { class: "ctx-text" }, textObj(e)));
      }
      break;
    }
    case "divider":
      return el("hr", { class: "divider" });
    case "image":
      if (block.title) wrap.append(el("div", { class: "muted", text: plain(block.title) }));
      wrap.append(el("img", { src: safeHref(block.image_url) || "", alt: block.alt_text || "", style: "max-width: 360px" }));
      break;
    case "actions":
      wrap.classList.add("actions");
      (block.elements || []).forEach((e, j) => wrap.append(actionElement(e, ctx, blockId, j)));
      break;
    case "input":
      return inputBlock(block, ctx, blockId);
    case "rich_text":
      wrap.textContent = richText(block);
      break;
    default:
      wrap.append(el("span", { class: "muted", text: `[${block.type} block]` }));
  }
  return wrap;
}

function richText(block) {
  const out = [];
  const walk = (n) => {
    if (!n) return;
    if (n.type === "text") out.push(n.text);
    else if (n.type === "link") out.push(n.text || n.url);
    else if (n.type === "user") out.push("@" + userName(n.user_id));
    else if (n.type === "emoji") out.push(`:${n.name}:`);
    (n.elements || []).forEach(walk);
  };
  walk(block);
  return out.join("");
}

function inputBlock(block, ctx, blockId) {
  const elem = block.element || {};
  const actionId = elem.action_id || "a0";
  const wrap = el("div", { class: "input-block", "data-block": blockId });
  const fieldId = `in-${blockId}-${actionId}`;
  wrap.append(el("label", { for: fieldId }, plain(block.label), block.optional ? el("span", { class: "muted", text: " (optional)" }) : null));
  let field;
  if (elem.type === "plain_text_input") {
    field = elem.multiline ? el("textarea") : el("input", { type: "text" });
    if (elem.initial_value) field.value = elem.initial_value;
    if (elem.placeholder) field.placeholder = plain(elem.placeholder);
    if (elem.max_length) field.maxLength = elem.max_length;
    field.setAttribute("data-block-id", blockId);
    field.setAttribute("data-action-id", actionId);
  } else if (["static_select", "multi_static_select", "users_select", "multi_users_select", "external_select",
              "conversations_select", "multi_conversations_select"].includes(elem.type)) {
    field = select(elem, blockId, actionId, { multiple: elem.type.startsWith("multi_") });
  } else {
    field = el("input", { type: "text", "data-block-id": blockId, "data-action-id": actionId, placeholder: `[${elem.type}]` });
  }
  field.id = fieldId;
  wrap.append(field);
  if (block.dispatch_action) dispatchOn(field, elem, ctx, blockId, actionId);
  // Slack counts only against an input's own max_length; an app that counts for itself
  // (dispatch_action, a live counter of its own) shows its own count instead.
  if (elem.type === "plain_text_input" && elem.multiline && elem.max_length && !block.dispatch_action) {
    const counter = el("div", { class: "counter" });
    const update = () => { counter.textContent = `${field.value.length}${elem.max_length ? " / " + elem.max_length : ""} characters`; };
    field.addEventListener("input", update);
    update();
    wrap.append(counter);
  }
  if (block.hint) wrap.append(el("div", { class: "hint", text: plain(block.hint) }));
  wrap.append(el("div", { class: "block-error hidden", "data-testid": "block-error", "data-block-id-error": blockId, role: "alert" }));
  return wrap;
}

// An input block with dispatch_action sends block_actions as Slack does: a plain-text input on
// each character typed (`on_character_entered`, a moment after the typing pauses) and/or on
// Enter (`on_enter_pressed`, Slack's default); a select when its choice changes.
function dispatchOn(field, elem, ctx, blockId, actionId) {
  const send = () => sendAction(ctx, blockId, actionId, field.tagName === "SELECT" && field.multiple
    ? [...field.selectedOptions].map((o) => o.value) : field.value, elem);
  if (elem.type !== "plain_text_input") {
    field.addEventListener("change", () => { if (!restoring) send(); });
    return;
  }
  const triggers = (elem.dispatch_action_config && elem.dispatch_action_config.trigger_actions_on) || ["on_enter_pressed"];
  if (triggers.includes("on_character_entered")) {
    let timer = null;
    field.addEventListener("input", () => {
      if (restoring) return;
      clearTimeout(timer);
      timer = setTimeout(send, 200);
    });
  }
  if (triggers.includes("on_enter_pressed") && !elem.multiline) {
    field.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); send(); } });
  }
}

// ---------- messages ----------
function fmtTime(ts) {
  return new Date(Number(ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function fmtSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// A shared file, as Slack shows one: its name (opens it), type and size, Download, and the
// first lines of a text file.
function fileCard(f) {
  const open = safeHref(f.url_private || "");
  const download = safeHref(f.url_private_download || f.url_private || "");
  const card = el("div", { class: "file", "data-testid": "file", "data-file-id": f.id },
    el("div", { class: "file-head" },
      el("span", { class: "file-icon", "aria-hidden": "true", text: "📄" }),
      el("div", { class: "file-meta" },
        open ? el("a", { class: "file-name", href: open, target: "_blank", rel: "noopener noreferrer", text: f.title || f.name })
          : el("span", { class: "file-name", text: f.title || f.name }),
        el("div", { class: "muted", text: `${f.pretty_type || f.filetype || "File"} · ${fmtSize(f.size)}` })),
      download ? el("a", { class: "btn", href: download, download: f.name || "", "data-testid": "file-download", text: "Download" }) : null));
  if (f.preview) {
    const more = f.lines_more ? `\n… ${f.lines_more} more line${f.lines_more === 1 ? "" : "s"}` : "";
    card.append(el("pre", { class: "file-preview", text: f.preview + more }));
  }
  return card;
}

function renderMessage(msg, channel, { inThread = false } = {}) {
  const bot = msg.bot_id || (snap.users[msg.user] && snap.users[msg.user].is_bot);
  const name = msg.subtype === "tombstone" ? "Slackbot" : bot ? "socialdesk" : userName(msg.user);
  const ephemeral = msg.subtype === "ephemeral";
  const node = el("div", {
    class: "message" + (ephemeral ? " ephemeral" : ""),
    "data-testid": ephemeral ? "ephemeral" : "message",
    "data-ts": msg.ts,
  });
  node.append(el("div", { class: "avatar" + (bot ? "" : " human"), text: (name[0] || "?").toUpperCase() }));
  const body = el("div", { class: "msg-body" });
  if (ephemeral) {
    body.append(el("span", { class: "only-you" }, "👁 Only visible to you ",
      el("button", { type: "button", class: "dismiss", text: "Dismiss", onclick: () => ui("dismiss", { ts: msg.ts }) })));
  }
  body.append(el("div", { class: "msg-head" }, el("span", { class: "name", text: name }), bot ? el("span", { class: "badge", text: "APP" }) : null,
    el("span", { class: "muted", text: fmtTime(msg.ts) }), msg.edited ? el("span", { class: "muted", text: "(edited)" }) : null));
  const ctx = { kind: "message", channel: channel.id, ts: msg.ts, ephemeral };
  if (msg.blocks && msg.blocks.length) body.append(renderBlocks(msg.blocks, ctx));
  else if (msg.text) body.append(el("div", { class: "text", style: "white-space: pre-wrap" }, mrkdwn(msg.text)));
  for (const f of msg.files || []) body.append(fileCard(f));
  if (!inThread && msg.reply_count) {
    body.append(el("button", {
      type: "button", class: "open-thread", "data-testid": "open-thread",
      text: `${msg.reply_count} repl${msg.reply_count === 1 ? "y" : "ies"}`,
      onclick: () => { thread = { channel: channel.id, ts: msg.ts }; render(); },
    }));
  }
  node.append(body);
  // What this node shows: an unchanged message keeps its DOM node (see keepScroll).
  node.dataset.key = JSON.stringify([msg.ts, msg.edited || "", msg.text || "", msg.blocks || [], (msg.files || []).map((f) => f.id),
    msg.reply_count || 0, inThread, Object.keys(snap.users).length]);
  return node;
}

function channelById(id) {
  return snap.channels.find((c) => c.id === id);
}

function dmChannel() {
  return snap.channels.find((c) => c.is_im);
}

// `stick`: a timeline follows its newest message when it was at the bottom; App Home never
// does (it opens at the top, like Slack's). `fresh`: a switch to another channel or tab.
function keepScroll(container, build, { stick = true, fresh = false } = {}) {
  const atBottom = stick && container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  const top = fresh ? 0 : container.scrollTop;
  // Reuse the nodes of unchanged messages: re-creating every message on each update
  // made buttons vanish under people's (and the browser test's) pointers.
  const old = new Map([...container.children].filter((n) => n.dataset && n.dataset.key).map((n) => [n.dataset.key, n]));
  const next = build().map((n) => (n.dataset && n.dataset.key && old.has(n.dataset.key) ? old.get(n.dataset.key) : n));
  const same = next.length === container.children.length && next.every((n, i) => container.children[i] === n);
  if (!same) container.replaceChildren(...next);
  container.scrollTop = (stick && (atBottom || fresh)) ? container.scrollHeight : top;
}

function renderSidebar() {
  const list = $("channel-list");
  list.replaceChildren(...snap.channels.filter((c) => !c.is_im).map((c) => el("li", {},
    el("a", {
      href: "#", class: "nav-item" + (current.kind === "channel" && current.id === c.id ? " active" : ""),
      "data-testid": "channel", "data-name": c.name, "data-id": c.id, text: "# " + c.name,
      onclick: (e) => { e.preventDefault(); current = { kind: "channel", id: c.id }; thread = null; render(); },
    }))));
  $("app-home").classList.toggle("active", current.kind === "home");
  // Slack marks a DM from the app as unread until App Home is opened: a badge with the count.
  const dm = dmChannel();
  const latest = dm && dm.messages.length ? dm.messages[dm.messages.length - 1].ts : "0";
  const seenKey = `demo-dm-seen-${me}`;
  if (current.kind === "home") localStorage.setItem(seenKey, latest);
  const seen = Number(localStorage.getItem(seenKey) || 0);
  const unread = dm ? dm.messages.filter((m) => Number(m.ts) > seen && (!m.thread_ts || m.thread_ts === m.ts)).length : 0;
  const badge = $("home-unread");
  badge.textContent = unread ? String(unread) : "";
  badge.classList.toggle("hidden", !unread);
}

function renderMain() {
  const header = $("channel-header");
  const box = $("messages");
  const showing = current.kind === "home" ? "home" : `channel:${current.id}`;
  const fresh = showing !== shownMain;
  shownMain = showing;
  if (current.kind === "home") {
    header.replaceChildren(el("span", { text: "socialdesk — Home" }),
      el("a", { href: "#", class: "to-messages", "data-testid": "to-messages", text: "Messages ↓",
        onclick: (e) => { e.preventDefault(); const d = $("dm-divider"); if (d) d.scrollIntoView({ block: "start" }); } }));
    const dm = dmChannel();
    keepScroll(box, () => {
      const out = [];
      const home = el("div", { class: "home", "data-testid": "home-view" });
      if (snap.home) home.append(renderBlocks(snap.home.blocks, { kind: "home", viewId: snap.home.id }));
      else home.append(el("div", { class: "empty", text: "The app has not published a Home tab yet." }));
      out.push(home, el("div", { class: "reply-divider", id: "dm-divider", text: "Messages" }));
      if (dm) out.push(...timeline(dm));
      return out;
    }, { stick: false, fresh });
    return;
  }
  const ch = channelById(current.id);
  if (!ch) { header.textContent = ""; box.replaceChildren(); return; }
  header.textContent = "# " + ch.name;
  keepScroll(box, () => timeline(ch), { fresh });
}

function timeline(ch) {
  const top = ch.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
  const eph = snap.ephemerals.filter((e) => e.channel === ch.id && !e.thread_ts);
  const all = [...top, ...eph].sort((a, b) => Number(a.ts) - Number(b.ts));
  if (!all.length) return [el("div", { class: "empty", text: "No messages yet." })];
  return all.map((m) => renderMessage(m, ch));
}

function renderThread() {
  const panel = $("thread");
  if (!thread) { panel.classList.add("hidden"); return; }
  const ch = channelById(thread.channel);
  const parent = ch && ch.messages.find((m) => m.ts === thread.ts);
  if (!parent) { panel.classList.add("hidden"); return; }
  panel.classList.remove("hidden");
  $("thread-channel").textContent = ch.is_im ? "socialdesk" : "# " + ch.name;
  const replies = ch.messages.filter((m) => m.thread_ts === thread.ts && m.ts !== thread.ts);
  const eph = snap.ephemerals.filter((e) => e.channel === ch.id && e.thread_ts === thread.ts);
  const rest = [...replies, ...eph].sort((a, b) => Number(a.ts) - Number(b.ts));
  keepScroll($("thread-messages"), () => [
    renderMessage(parent, ch, { inThread: true }),
    el("div", { class: "reply-divider", text: `${replies.length} repl${replies.length === 1 ? "y" : "ies"}` }),
    ...rest.map((m) => renderMessage(m, ch, { inThread: true })),
  ]);
}

// ---------- modal ----------
function collectValues(scope = "#modal") {
  const values = {};
  document.querySelectorAll(`${scope} [data-block-id]`).forEach((f) => {
    const block = f.getAttribute("data-block-id");
    const action = f.getAttribute("data-action-id");
    let v;
    if (f.tagName === "SELECT" && f.multiple) v = [...f.selectedOptions].map((o) => o.value);
    else v = f.value;
    (values[block] = values[block] || {})[action] = v;
  });
  return values;
}

function renderModal() {
  const backdrop = $("modal-backdrop");
  const view = snap.modal;
  if (!view) { backdrop.classList.add("hidden"); shownModalKey = null; return; }
  const key = view.id + "/" + view.hash;
  if (key === shownModalKey) return;
  const kept = shownModalKey && shownModalKey.startsWith(view.id + "/") ? collectValues() : {};
  shownModalKey = key;
  const modal = $("modal");
  // An update while someone types (a live counter) must not take the cursor away.
  const active = document.activeElement;
  const focused = active && modal.contains(active) && active.getAttribute("data-block-id")
    ? { block: active.getAttribute("data-block-id"), action: active.getAttribute("data-action-id"),
        start: active.selectionStart, end: active.selectionEnd } : null;
  modal.setAttribute("data-view-id", view.id);
  modal.setAttribute("data-callback-id", view.callback_id || "");
  const ctx = { kind: "modal", viewId: view.id };
  const cancel = () => ui("close", { view_id: view.id, values: collectValues() }).then(() => poll(true));
  const submitBtn = view.submit ? el("button", { type: "button", class: "btn primary", "data-testid": "modal-submit", text: plain(view.submit) }) : null;
  if (submitBtn) submitBtn.addEventListener("click", async () => {
    submitBtn.disabled = true;
    document.querySelectorAll("#modal [data-testid=block-error]").forEach((e) => { e.textContent = ""; e.classList.add("hidden"); e.parentElement.classList.remove("has-error"); });
    try {
      const res = await ui("submit", { view_id: view.id, values: collectValues() });
      if (res.errors) showErrors(res.errors);
    } finally { submitBtn.disabled = false; }
  });
  modal.replaceChildren(
    el("div", { class: "modal-head" }, el("span", { text: plain(view.title) }),
      el("button", { type: "button", class: "icon", "aria-label": "Close", text: "✕", onclick: cancel })),
    el("div", { class: "modal-body" }, renderBlocks(view.blocks, ctx)),
    el("div", { class: "modal-foot" },
      el("button", { type: "button", class: "btn", "data-testid": "modal-cancel", text: plain(view.close) || "Cancel", onclick: cancel }),
      submitBtn),
  );
  // Slack keeps what people typed in inputs whose block_id did not change.
  const field = (block, action) => modal.querySelector(`[data-block-id="${CSS.escape(block)}"][data-action-id="${CSS.escape(action)}"]`);
  restoring = true;
  try {
    for (const [block, actions] of Object.entries(kept)) {
      for (const [action, v] of Object.entries(actions)) {
        const f = field(block, action);
        if (!f) continue;
        if (f.multiple) [...f.options].forEach((o) => { o.selected = v.includes(o.value); });
        else f.value = v;
        f.dispatchEvent(new Event("input"));
      }
    }
  } finally { restoring = false; }
  backdrop.classList.remove("hidden");
  const again = focused && field(focused.block, focused.action);
  if (again) {
    again.focus();
    if (typeof focused.start === "number" && again.setSelectionRange) {
      try { again.setSelectionRange(focused.start, focused.end); } catch { /* not a text field */ }
    }
  }
}

function showErrors(errors) {
  for (const [block, msg] of Object.entries(errors)) {
    const slot = document.querySelector(`#modal [data-block-id-error="${CSS.escape(block)}"]`);
    if (slot) {
      slot.textContent = msg;
      slot.classList.remove("hidden");
      slot.parentElement.classList.add("has-error");
    } else toast(msg);
  }
}

// ---------- page ----------
function render() {
  if (!snap) return;
  $("team").textContent = snap.team;
  if (current.kind === "channel" && !channelById(current.id)) {
    const first = snap.channels.find((c) => !c.is_im);
    current = { kind: "channel", id: first ? first.id : null };
  }
  renderSidebar();
  renderMain();
  renderThread();
  renderModal();
  renderLocalPages();
  finishJump();
}

// The local networks' pages (what the brand's accounts posted there), from the demo's runner.
function renderLocalPages() {
  const pages = (snap && snap.local_pages) || [];
  const list = $("local-pages");
  $("local-pages-title").classList.toggle("hidden", !pages.length);
  const key = JSON.stringify(pages);
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...pages.map((p) => el("li", {},
    el("a", { href: safeHref(p.url) || "#", class: "nav-item", target: "_blank", rel: "noopener noreferrer",
      "data-testid": "local-page", text: "🌐 " + p.label }))));
}

function fillAgents(users) {
  const sw = $("agent-switch");
  if (sw.options.length) return;
  const humans = Object.values(users).filter((u) => !u.is_bot);
  for (const u of humans) sw.append(el("option", { value: u.name, text: `${u.real_name || u.name} (@${u.name})` }));
  if (!humans.some((u) => u.name === me)) me = humans.length ? humans[0].name : "";
  sw.value = me;
}

async function poll(once = false) {
  if (!once && pollAbort) pollAbort.abort();
  const controller = new AbortController();
  if (!once) pollAbort = controller;
  const wait = once ? 0 : 20;
  const since = once ? -1 : version;
  try {
    const resp = await fetch(`/state?user=${encodeURIComponent(me)}&since=${since}&wait=${wait}`, { signal: controller.signal });
    const data = await resp.json();
    if (data.ok) {
      fillAgents(data.users);
      snap = data;
      version = data.version;
      render();
    }
  } catch (err) {
    if (err.name === "AbortError") return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (!once && pollAbort === controller) setTimeout(() => poll(), 0);
}

function openHome() {
  current = { kind: "home" };
  thread = null;
  render();
  ui("home", {});
}

function init() {
  $("agent-switch").addEventListener("change", (e) => {
    me = e.target.value;
    localStorage.setItem("demo-agent", me);
    shownModalKey = null;
    version = -1;
    snap = null;
    if (current.kind === "home") ui("home", {});
    poll();
  });
  $("app-home").addEventListener("click", (e) => { e.preventDefault(); openHome(); });
  $("close-thread").addEventListener("click", () => { thread = null; render(); });
  document.addEventListener("click", () => document.querySelectorAll(".overflow-menu").forEach((m) => m.classList.add("hidden")));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && snap && snap.modal) ui("close", { view_id: snap.modal.id, values: collectValues() }).then(() => poll(true));
  });
  $("composer-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = $("composer");
    const text = box.value.trim();
    if (!text || !snap) return;
    const channel = current.kind === "home" ? (dmChannel() || {}).id : current.id;
    box.value = "";
    if (text.startsWith("/")) await ui("command", { channel, text });
    else await ui("post", { channel, text });
  });
  $("thread-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = $("thread-composer");
    const text = box.value.trim();
    if (!text || !thread) return;
    box.value = "";
    await ui("post", { channel: thread.channel, text, thread_ts: thread.ts });
  });
  // Slack keeps "{ago}" and "Today" current while a message is on screen.
  setInterval(() => document.querySelectorAll("[data-format]").forEach((n) => {
    const text = slackDate(Number(n.dataset.epoch), n.dataset.format);
    if (text && n.textContent !== text) n.textContent = text;
  }), 20_000);
  const start = archiveTarget(location.href);
  if (start) { history.replaceState(null, "", "/"); jumpTo(start); }
  poll();
}

init();
