"use strict";
// The status page's one script: fetches /status.json every 3 s (with the session cookie) and
// redraws the tables. Every value goes in through textContent, never as HTML.
const REFRESH_MS = 3000;
let refreshes = 0;

function $(id) { return document.getElementById(id); }

function cell(text, cls, title) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "—" : String(text);
  if (cls) td.className = cls;
  if (title) td.title = title;
  return td;
}

function ago(now, at) {
  if (at === null || at === undefined) return "never";
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 120) return s + " s ago";
  if (s < 7200) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

function short(key) { return key ? key.slice(0, 12) + "…" : "—"; }

function fill(id, rows, columns, empty) {
  const body = $(id);
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell(empty);
    td.colSpan = columns;
    tr.append(td);
    body.append(tr);
  }
  for (const r of rows) body.append(r);
}

function accountRow(a, now) {
  const tr = document.createElement("tr");
  tr.dataset.account = a.session_id;
  let health = "ok", cls = "ok";
  if (a.status !== "active") { health = "paused"; cls = "muted"; }
  else if (a.stale) { health = a.last_poll_at === null ? "stale (never polled)" : "stale"; cls = "bad"; }
  else if (a.last_poll_at === null) { health = "starting"; cls = "muted"; }
  tr.append(
    cell(a.session_id, "mono"),
    cell(a.display_name, "name"),
    cell(a.status, "status"),
    cell(health, "health " + cls),
    cell(ago(now, a.last_poll_at), "poll"),
    cell(a.poll_interval_ms ? (a.poll_interval_ms / 1000) + " s" : "—", "interval"),
    cell(a.swarm.length + " nodes", "swarm", a.swarm.join("\n")),
    cell(a.replica, "replica mono"),
    cell(a.last_error ? a.last_error + " (" + ago(now, a.last_error_at) + ")" : "", "error"));
  return tr;
}

function webhookRow(w, now) {
  const tr = document.createElement("tr");
  tr.dataset.webhook = w.id;
  tr.append(
    cell(w.id, "mono"),
    cell(w.url, "url"),
    cell(w.enabled ? "yes" : "no", w.enabled ? "enabled ok" : "enabled bad"),
    cell(w.pending, "pending" + (w.pending > 0 ? " bad" : "")),
    cell(w.dead, "dead" + (w.dead > 0 ? " bad" : "")),
    cell(w.delivered, "delivered"),
    cell(w.last_error ? w.last_error + " (" + ago(now, w.last_error_at) + ")" : "", "error"));
  return tr;
}

function failureRow(f, now) {
  const tr = document.createElement("tr");
  tr.dataset.kind = f.kind;
  tr.append(cell(ago(now, f.at)), cell(f.kind, "kind"), cell(f.subject, "subject mono"),
    cell(f.item, "item mono"), cell(f.error, "error"));
  return tr;
}

function pathRow(hops, i) {
  const tr = document.createElement("tr");
  tr.dataset.path = String(i);
  tr.append(cell(i + 1), ...hops.map((h) => cell(short(h), "mono", h)));
  return tr;
}

function render(s) {
  const now = s.generated_at;
  $("updated").textContent = new Date(now).toLocaleTimeString();
  $("refreshes").textContent = String(refreshes);
  $("acc-total").textContent = String(s.accounts_total);
  $("acc-stale").textContent = String(s.accounts_stale);
  $("acc-stale").className = s.accounts_stale > 0 ? "bad" : "ok";
  const n = s.network;
  $("net-paths").textContent = n ? String(n.paths) : "—";
  $("net-pool").textContent = n ? String(n.pool) : "—";
  $("net-usable").textContent = n ? (n.usable ? "usable" : "no path") : "not connected";
  $("net-usable").className = n && n.usable ? "ok" : "bad";
  $("hooks-pending").textContent = String(s.webhooks.reduce((t, w) => t + w.pending, 0));
  fill("accounts", s.accounts.map((a) => accountRow(a, now)), 9, "no accounts");
  fill("paths", (n ? n.path_hops : []).map(pathRow), 4, "no onion paths");
  fill("webhooks", s.webhooks.map((w) => webhookRow(w, now)), 7, "no webhooks");
  fill("failures", s.failures.map((f) => failureRow(f, now)), 5, "no failures");
}

async function refresh() {
  try {
    const r = await fetch("/status.json", { credentials: "same-origin", cache: "no-store" });
    if (r.status === 401 || r.status === 403) { location.reload(); return; }
    if (!r.ok) throw new Error("HTTP " + r.status);
    const s = await r.json();
    refreshes += 1;
    render(s);
    $("error").textContent = "";
  } catch (e) {
    $("error").textContent = "Refresh failed: " + e.message + " (retrying)";
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
