// loadgen web UI: polls /stats/requests every 2 s, drives Locust's API (/swarm, /stop,
// /stats/reset) and fills the tabs; charts.js draws the charts.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
let state = "ready";
let showingStart = true;

function message(text, kind) {
  const m = $("message");
  m.textContent = text || "";
  m.className = kind === "info" ? "message info" : "message";
  m.hidden = !text;
}

async function getJson(path, options) {
  const response = await fetch(path, Object.assign({ cache: "no-store" }, options || {}));
  if (!response.ok) {
    throw new Error(path + " answered HTTP " + response.status);
  }
  return response.json();
}

// Seconds as H:MM:SS, as the console's progress line shows them; "-" when unknown.
function clock(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  const s = Math.floor(seconds);
  const pad = (n) => String(n).padStart(2, "0");
  return Math.floor(s / 3600) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60);
}

function round(value) {
  return Math.round(Number(value) || 0).toLocaleString("en-US");
}

// Response times with two decimals, as Locust's web UI rounds them (and as the HTML
// report shows them), so every surface reads the same figure.
function ms(value) {
  return (Number(value) || 0).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function fixed(value, digits) {
  return (Number(value) || 0).toFixed(digits);
}

function cell(row, text, header) {
  const c = document.createElement(header ? "th" : "td");
  if (header) c.scope = "row";
  c.textContent = text;
  row.appendChild(c);
}

// The statistics table's columns, in order: the field each sorts by.
const STATS_FIELDS = ["method", "name", "num_requests", "num_failures", "median_response_time",
  "response_time_percentile_0.95", "response_time_percentile_0.99", "avg_response_time",
  "min_response_time", "max_response_time", "avg_content_length", "current_rps",
  "current_fail_per_sec"];
// The sort chosen by clicking a column's heading (none: the server's order, by name).
const statsSort = { column: -1, descending: false };
let lastStats = [];

// Rows sorted by the chosen column (numbers as numbers); Aggregated stays last.
function sortedStats(stats) {
  const rows = stats.filter((s) => !(s.name === "Aggregated" && !s.method));
  const total = stats.filter((s) => s.name === "Aggregated" && !s.method);
  if (statsSort.column >= 0) {
    const field = STATS_FIELDS[statsSort.column];
    const sign = statsSort.descending ? -1 : 1;
    rows.sort((a, b) => {
      const x = a[field], y = b[field];
      const order = typeof x === "number" && typeof y === "number"
        ? x - y : String(x).localeCompare(String(y));
      return sign * order;
    });
  }
  return rows.concat(total);
}

function makeStatsSortable() {
  const heads = $("stats-table").querySelectorAll("thead th");
  heads.forEach((th, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = th.textContent;
    th.replaceChildren(button);
    button.addEventListener("click", () => {
      statsSort.descending = statsSort.column === i ? !statsSort.descending : i >= 2;
      statsSort.column = i;
      heads.forEach((h, j) => {
        if (j === i) h.setAttribute("aria-sort", statsSort.descending ? "descending" : "ascending");
        else h.removeAttribute("aria-sort");
      });
      fillStats(lastStats);
    });
  });
}

function fillStats(stats) {
  lastStats = stats;
  const body = $("stats-table").querySelector("tbody");
  body.replaceChildren();
  for (const s of sortedStats(stats)) {
    const tr = document.createElement("tr");
    if (s.name === "Aggregated" && !s.method) tr.className = "total";
    cell(tr, s.method);
    cell(tr, s.name, true);
    cell(tr, round(s.num_requests));
    cell(tr, round(s.num_failures));
    cell(tr, ms(s.median_response_time));
    cell(tr, ms(s["response_time_percentile_0.95"]));
    cell(tr, ms(s["response_time_percentile_0.99"]));
    cell(tr, ms(s.avg_response_time));
    cell(tr, ms(s.min_response_time));
    cell(tr, ms(s.max_response_time));
    cell(tr, round(s.avg_content_length));
    cell(tr, fixed(s.current_rps, 1));
    cell(tr, fixed(s.current_fail_per_sec, 1));
    body.appendChild(tr);
  }
}

function fillFailures(errors) {
  const body = $("failures-table").querySelector("tbody");
  body.replaceChildren();
  if (errors.length === 0) emptyRow(body, 4, "No failures.");
  for (const e of errors) {
    const tr = document.createElement("tr");
    cell(tr, round(e.occurrences));
    cell(tr, e.method);
    cell(tr, e.name);
    cell(tr, e.error);
    body.appendChild(tr);
  }
}

function setButtons() {
  const live = state === "spawning" || state === "running";
  $("btn-stop").hidden = !live;
  $("btn-edit").hidden = !live;
  $("btn-new").hidden = state !== "stopped" || showingStart;
  $("start").hidden = !(state === "ready" || (state === "stopped" && showingStart));
  if (!live) $("edit").hidden = true;
}

function selectedTab() {
  return document.querySelector('[role=tab][aria-selected=true]').id.slice(4);
}

// The host in the header, marked when it is not this machine (loopback).
function showHost(host) {
  const el = $("h-host");
  el.textContent = host || "-";
  let name = "";
  try {
    name = new URL(host).hostname;
  } catch (e) {
    name = "";
  }
  const local = name === "localhost" || name === "[::1]" || /^127\./.test(name);
  el.classList.toggle("remote", Boolean(host) && !local);
  el.title = host && !local ? "not loopback: the load goes to another machine" : "";
}

async function refresh() {
  let data;
  try {
    data = await getJson("/stats/requests");
  } catch (e) {
    message("Lost contact with loadgen: " + e.message);
    return;
  }
  const was = state;
  state = data.state;
  showHost(data.host);
  $("h-state").textContent = state;
  $("h-elapsed").textContent = clock(data.elapsed);
  $("h-remaining").textContent = clock(data.remaining === null ? null : Math.ceil(data.remaining));
  $("h-users").textContent = String(data.user_count);
  $("h-stage").textContent = isLive(state) ? stageNow(data.stages, data.elapsed) : "-";
  // The server sends current rates of 0 once the test is not running.
  $("h-rps").textContent = fixed(data.current_rps, 1);
  $("h-fail").textContent = round((data.fail_ratio || 0) * 100) + "%";
  // Said at the first refresh that shows it: a target refusing every connection.
  $("unreachable").hidden = !data.warning;
  $("unreachable").textContent = data.warning ? "Warning: " + data.warning : "";
  fillStats(data.stats);
  fillFailures(data.errors);
  if (was !== state && state === "stopped") {
    showingStart = false;
    // "Swarming started" no longer holds; an error message stays.
    if (!$("message").hidden && $("message").classList.contains("info")) message("Test stopped", "info");
  }
  setButtons();
  const tab = selectedTab();
  if (tab === "charts") refreshCharts();
  if (tab === "verdict") loadVerdict();
  if (tab === "logs") loadLogs();
  if (tab === "exceptions") loadExceptions();
}

function isLive(s) {
  return s === "running" || s === "spawning";
}

// The stage the run is in: the last one started by `elapsed` seconds.
function stageNow(stages, elapsed) {
  const started = (stages || []).filter((m) => m.at <= (elapsed || 0));
  if (started.length === 0) return "-";
  const m = started[started.length - 1];
  return "stage " + (m.stage + 1) + ": " + m.label;
}

// A row saying the table is empty.
function emptyRow(body, columns, text) {
  const tr = document.createElement("tr");
  const td = document.createElement("td");
  td.colSpan = columns;
  td.textContent = text;
  td.style.textAlign = "left";
  tr.appendChild(td);
  body.appendChild(tr);
}

async function loadLogs() {
  let l;
  try {
    l = await getJson("/ui/logs");
  } catch (e) {
    message("Could not load the logs: " + e.message);
    return;
  }
  const body = $("logs-table").querySelector("tbody");
  body.replaceChildren();
  if (l.lines.length === 0) emptyRow(body, 3, "No log lines yet.");
  // Newest first, as a reader looks for what just happened.
  for (const line of l.lines.slice().reverse()) {
    const tr = document.createElement("tr");
    tr.className = "level-" + line.level;
    cell(tr, new Date(line.time * 1000).toLocaleTimeString("en-GB"));
    cell(tr, line.level);
    cell(tr, line.message);
    body.appendChild(tr);
  }
  $("logs-dropped").hidden = l.dropped === 0;
  $("logs-dropped").textContent = l.dropped + " older lines were dropped (the page keeps the last " + l.lines.length + ").";
}

async function loadExceptions() {
  let x;
  try {
    x = await getJson("/exceptions");
  } catch (e) {
    message("Could not load the exceptions: " + e.message);
    return;
  }
  const body = $("exceptions-table").querySelector("tbody");
  body.replaceChildren();
  if (x.exceptions.length === 0) emptyRow(body, 4, "No exceptions.");
  for (const row of x.exceptions) {
    const tr = document.createElement("tr");
    cell(tr, round(row.count));
    cell(tr, row.msg);
    cell(tr, row.traceback);
    cell(tr, row.nodes);
    body.appendChild(tr);
  }
}

async function loadConfig() {
  const c = await getJson("/ui/config");
  $("user_count").value = c.users;
  $("spawn_rate").value = c.spawn_rate;
  $("host").value = c.host;
  $("run_time").value = c.run_time || "";
  const box = $("classes");
  box.replaceChildren();
  for (const name of c.classes) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "user_classes";
    input.value = name;
    input.checked = c.selected_classes.includes(name);
    label.appendChild(input);
    label.appendChild(document.createTextNode(name));
    box.appendChild(label);
  }
  state = c.state;
  showingStart = state === "ready";
  setButtons();
  if (c.error) message("The last test reported: " + c.error);
}

// Checks the fields the browser can judge; the server checks everything again.
function invalid(form) {
  for (const input of form.querySelectorAll("input[type=number], input[required]")) {
    input.removeAttribute("aria-invalid");
  }
  const users = form.querySelector("[name=user_count]");
  if (!/^\d+$/.test(users.value.trim()) || Number(users.value) < 1) {
    return [users, "Number of users must be a whole number of 1 or more."];
  }
  const rate = form.querySelector("[name=spawn_rate]");
  if (!(Number(rate.value) > 0)) {
    return [rate, "Spawn rate must be a number of users per second above 0."];
  }
  const host = form.querySelector("[name=host]");
  if (host && !host.value.trim()) {
    return [host, "Host is required, e.g. http://127.0.0.1:8000."];
  }
  const classes = form.querySelectorAll("[name=user_classes]");
  if (classes.length && !form.querySelector("[name=user_classes]:checked")) {
    return [classes[0], "Choose at least one user class."];
  }
  return null;
}

async function submitSwarm(form, after) {
  const bad = invalid(form);
  if (bad) {
    bad[0].setAttribute("aria-invalid", "true");
    message(bad[1]);
    bad[0].focus();
    return;
  }
  const body = new URLSearchParams(new FormData(form));
  let answer;
  try {
    answer = await getJson("/swarm", { method: "POST", body: body });
  } catch (e) {
    message("Could not reach loadgen: " + e.message);
    return;
  }
  if (!answer.success) {
    message(answer.message);
    return;
  }
  message(answer.message, "info");
  after();
  await refresh();
}

$("start-form").addEventListener("submit", (event) => {
  event.preventDefault();
  // The form disappears once the test runs; keyboard focus moves to the Stop button.
  submitSwarm($("start-form"), () => { showingStart = false; }).then(() => {
    if (!$("btn-stop").hidden) $("btn-stop").focus();
  });
});

$("edit-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitSwarm($("edit-form"), () => { $("edit").hidden = true; $("btn-edit").focus(); });
});

$("btn-edit").addEventListener("click", () => {
  $("edit_user_count").value = $("h-users").textContent;
  $("edit_spawn_rate").value = $("spawn_rate").value;
  $("edit").hidden = false;
  $("edit_user_count").focus();
});

$("btn-edit-cancel").addEventListener("click", () => {
  $("edit").hidden = true;
  $("btn-edit").focus();
});

$("btn-stop").addEventListener("click", async () => {
  try {
    const answer = await getJson("/stop");
    message(answer.message, "info");
  } catch (e) {
    message("Could not stop: " + e.message);
  }
  await refresh();
});

$("btn-reset").addEventListener("click", async () => {
  try {
    await fetch("/stats/reset", { cache: "no-store" });
    message("Statistics reset.", "info");
  } catch (e) {
    message("Could not reset: " + e.message);
  }
  await refresh();
});

$("btn-new").addEventListener("click", async () => {
  showingStart = true;
  message("");
  await loadConfig();
  showingStart = true;
  setButtons();
  $("user_count").focus();
});

function bandCell(row, text, band) {
  const td = document.createElement("td");
  td.textContent = text;
  if (band) td.className = "band-" + band;
  row.appendChild(td);
}

async function loadVerdict() {
  let v;
  try {
    v = await getJson("/verdict");
  } catch (e) {
    message("Could not load the baselines: " + e.message);
    return;
  }
  $("verdict-outcome").textContent = "Criteria outcome: " + v.outcome;
  const table = $("bands-table");
  const head = table.querySelector("thead tr");
  head.replaceChildren();
  const first = document.createElement("th");
  first.scope = "col";
  first.textContent = "Row";
  head.appendChild(first);
  const metrics = v.baselines.length ? v.baselines[0].cells.map((c) => c.metric) : [];
  for (const m of metrics) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = m;
    head.appendChild(th);
  }
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const r of v.baselines) {
    const tr = document.createElement("tr");
    cell(tr, r.row, true);
    for (const c of r.cells) {
      // A request row's requests/s has no band: the throughput bands judge the system.
      const shown = c.value === null ? "-" : c.band === null ? c.value : c.value + " (" + c.band + ")";
      bandCell(tr, shown, c.band);
    }
    body.appendChild(tr);
  }
  const list = $("criteria-list");
  list.replaceChildren();
  if (v.criteria.length === 0) {
    const li = document.createElement("li");
    li.textContent = "No criteria are set for this scenario.";
    list.appendChild(li);
  }
  for (const c of v.criteria) {
    const li = document.createElement("li");
    li.className = c.passed ? "pass" : "fail";
    li.textContent = (c.passed ? "PASS " : "FAIL ") + c.criterion + " - " + c.measured;
    list.appendChild(li);
  }
}

async function loadRatio() {
  let t;
  try {
    t = await getJson("/tasks");
  } catch (e) {
    message("Could not load the ratios: " + e.message);
    return;
  }
  const box = $("ratio");
  box.replaceChildren();
  for (const [title, key] of [["Ratio per user class", "per_class"], ["Total ratio", "total"]]) {
    const h = document.createElement("h3");
    h.textContent = title;
    box.appendChild(h);
    const outer = document.createElement("ul");
    for (const [name, c] of Object.entries(t[key])) {
      const li = document.createElement("li");
      li.textContent = fixed(c.ratio * 100, 1) + "% " + name;
      const inner = document.createElement("ul");
      for (const [task, r] of Object.entries(c.tasks)) {
        const item = document.createElement("li");
        item.textContent = fixed(r.ratio * 100, 1) + "% " + task;
        inner.appendChild(item);
      }
      li.appendChild(inner);
      outer.appendChild(li);
    }
    box.appendChild(outer);
  }
}

function selectTab(tab) {
  for (const t of document.querySelectorAll("[role=tab]")) {
    const on = t === tab;
    t.setAttribute("aria-selected", on ? "true" : "false");
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !on;
  }
  const name = tab.id.slice(4);
  if (name === "charts") refreshCharts();
  if (name === "ratio") loadRatio();
  if (name === "verdict") loadVerdict();
  if (name === "logs") loadLogs();
  if (name === "exceptions") loadExceptions();
}

const tabs = Array.from(document.querySelectorAll("[role=tab]"));
for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  // Arrow keys move between tabs, as the WAI-ARIA tabs pattern expects.
  tab.addEventListener("keydown", (event) => {
    const i = tabs.indexOf(tab);
    let next = null;
    if (event.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
    if (event.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
    if (event.key === "Home") next = tabs[0];
    if (event.key === "End") next = tabs[tabs.length - 1];
    if (next) {
      event.preventDefault();
      next.focus();
      selectTab(next);
    }
  });
}

makeStatsSortable();
loadConfig().then(refresh).catch((e) => message("Could not load the settings: " + e.message));
setInterval(refresh, POLL_MS);
