// loadgen web UI charts: the Aggregated history from /ui/history drawn as inline SVG,
// full width, with the values under the pointer and drag-to-zoom (every chart follows
// the same seconds). Nothing is fetched from another origin.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const CHART_HEIGHT = 260;
const PAD = { left: 56, right: 16, top: 28, bottom: 34 };
const CHARTS = [
  { id: "chart-rps", title: "Total requests per second", unit: "/s", digits: 1,
    series: [["current_rps", "RPS", "#1f77b4"], ["current_fail_per_sec", "Failures/s", "#d62728"]] },
  { id: "chart-rt", title: "Response times (ms): p50 and p95 of the last 10 s, each second", unit: " ms", digits: 1,
    series: [["p50", "p50", "#2ca02c"], ["p95", "p95", "#ff7f0e"]] },
  { id: "chart-users", title: "Number of users", unit: "", digits: 0,
    series: [["user_count", "Users", "#1f77b4"]] },
];

// The figures drawn, the zoomed seconds (null: the whole run), and whether the pointer
// is on a chart (a refresh then waits, so the values read do not jump away).
const chartState = { data: null, zoom: null, hovering: false };

function svg(name, attrs, parent) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

// Round tick steps (1, 2, 5 x 10^n, at least `least`) giving about `count` ticks over
// [0, top].
function ticks(top, count, least) {
  if (!(top > 0)) return [0];
  const raw = Math.max(top / count, least || 0);
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const out = [];
  for (let v = 0; v <= top + step / 2; v += step) out.push(v);
  return out;
}

function formatValue(value, spec) {
  if (value === null || value === undefined) return "-";
  return Number(value).toFixed(spec.digits) + spec.unit;
}

// The indexes of the seconds shown: all, or those inside the zoom.
function visibleIndexes(time) {
  const all = time.map((_, i) => i);
  if (!chartState.zoom) return all;
  const [from, to] = chartState.zoom;
  const inside = all.filter((i) => time[i] >= from && time[i] <= to);
  return inside.length >= 2 ? inside : all;
}

function drawChart(spec) {
  const figure = document.getElementById(spec.id);
  const data = chartState.data;
  figure.replaceChildren();
  const width = Math.max(figure.clientWidth, 320);
  const root = svg("svg", { viewBox: `0 0 ${width} ${CHART_HEIGHT}`, preserveAspectRatio: "none" }, figure);
  svg("text", { x: PAD.left, y: 18, class: "title" }, root).textContent = spec.title;
  const time = data ? data.time : [];
  if (time.length < 2) {
    svg("text", { x: PAD.left, y: CHART_HEIGHT / 2 }, root).textContent = "Waiting for two seconds of figures...";
    return;
  }
  const shown = visibleIndexes(time);
  const x0 = time[shown[0]];
  const x1 = time[shown[shown.length - 1]];
  let top = 0;
  for (const [key] of spec.series) {
    for (const i of shown) top = Math.max(top, Number(data[key][i]) || 0);
  }
  const yTicks = ticks(top * 1.1 || 1, 5);
  const yMax = yTicks[yTicks.length - 1];
  const plotW = width - PAD.left - PAD.right;
  const plotH = CHART_HEIGHT - PAD.top - PAD.bottom;
  const px = (t) => PAD.left + ((t - x0) / (x1 - x0 || 1)) * plotW;
  const py = (v) => PAD.top + plotH - (v / yMax) * plotH;

  for (const v of yTicks) {
    svg("line", { x1: PAD.left, x2: width - PAD.right, y1: py(v), y2: py(v), stroke: "#e1e4e8" }, root);
    svg("text", { x: PAD.left - 6, y: py(v) + 4, "text-anchor": "end" }, root).textContent = String(+v.toFixed(2));
  }
  // Whole seconds only: the history has one entry per second.
  for (const t of ticks(x1 - x0, 8, 1).map((d) => x0 + d).filter((t) => t <= x1)) {
    svg("text", { x: px(t), y: CHART_HEIGHT - 16, "text-anchor": "middle" }, root).textContent = Math.round(t) + " s";
  }
  svg("text", { x: width - PAD.right, y: CHART_HEIGHT - 2, "text-anchor": "end" }, root).textContent = "seconds since start";
  // Stage marks: where each change of users began.
  for (const mark of data.stages || []) {
    if (mark.at <= x0 || mark.at > x1) continue;
    svg("line", { x1: px(mark.at), x2: px(mark.at), y1: PAD.top, y2: PAD.top + plotH,
      stroke: "#6e5494", "stroke-dasharray": "6 4", class: "stage-mark" }, root);
    svg("text", { x: px(mark.at) + 4, y: PAD.top + 12, fill: "#6e5494" }, root).textContent =
      "stage " + (mark.stage + 1) + ": " + mark.label;
  }
  spec.series.forEach(([key, label, colour], n) => {
    const points = shown
      .filter((i) => data[key][i] !== null && data[key][i] !== undefined)
      .map((i) => px(time[i]).toFixed(1) + "," + py(Number(data[key][i])).toFixed(1));
    svg("polyline", { points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 2,
      "data-series": key }, root);
    // The legend sits on the title's line, right-aligned, clear of the lines drawn.
    const lx = width - PAD.right - (spec.series.length - n) * 110;
    svg("line", { x1: lx, x2: lx + 18, y1: 14, y2: 14, stroke: colour, "stroke-width": 3 }, root);
    svg("text", { x: lx + 22, y: 18 }, root).textContent = label;
  });

  // Hover and zoom: a transparent layer over the plot takes the pointer.
  const cursor = svg("line", { y1: PAD.top, y2: PAD.top + plotH, stroke: "#57606a", visibility: "hidden" }, root);
  const band = svg("rect", { y: PAD.top, height: plotH, fill: "rgba(10,91,211,.15)", visibility: "hidden" }, root);
  const layer = svg("rect", { x: PAD.left, y: PAD.top, width: plotW, height: plotH, fill: "transparent",
    class: "hover-layer" }, root);
  const tip = document.createElement("div");
  tip.className = "tip";
  tip.hidden = true;
  figure.appendChild(tip);
  const toPlotX = (event) => {
    const box = root.getBoundingClientRect();
    return (event.clientX - box.left) * (width / box.width);
  };
  const nearest = (x) => {
    const t = x0 + ((x - PAD.left) / plotW) * (x1 - x0);
    return shown.reduce((best, i) => (Math.abs(time[i] - t) < Math.abs(time[best] - t) ? i : best), shown[0]);
  };
  let dragFrom = null;
  layer.addEventListener("pointermove", (event) => {
    chartState.hovering = true;
    const x = toPlotX(event);
    const i = nearest(x);
    cursor.setAttribute("x1", px(time[i]));
    cursor.setAttribute("x2", px(time[i]));
    cursor.setAttribute("visibility", "visible");
    tip.textContent = time[i] + " s: " +
      spec.series.map(([key, label]) => label + " " + formatValue(data[key][i], spec)).join(", ");
    tip.dataset.second = String(time[i]);
    tip.hidden = false;
    const left = (px(time[i]) / width) * figure.clientWidth;
    tip.style.left = Math.min(left + 12, figure.clientWidth - tip.offsetWidth - 4) + "px";
    if (dragFrom !== null) {
      band.setAttribute("x", Math.min(dragFrom, x));
      band.setAttribute("width", Math.abs(x - dragFrom));
      band.setAttribute("visibility", "visible");
    }
  });
  layer.addEventListener("pointerleave", () => {
    chartState.hovering = false;
    cursor.setAttribute("visibility", "hidden");
    tip.hidden = true;
  });
  layer.addEventListener("pointerdown", (event) => {
    dragFrom = toPlotX(event);
    layer.setPointerCapture(event.pointerId);
  });
  layer.addEventListener("pointerup", (event) => {
    const from = dragFrom;
    dragFrom = null;
    band.setAttribute("visibility", "hidden");
    if (from === null) return;
    const to = toPlotX(event);
    // A click is not a zoom: ask for a few pixels of drag.
    if (Math.abs(to - from) < 6) return;
    const a = time[nearest(Math.min(from, to))];
    const b = time[nearest(Math.max(from, to))];
    if (b > a) setZoom([a, b]);
  });
  layer.addEventListener("dblclick", () => setZoom(null));
}

function setZoom(range) {
  chartState.zoom = range;
  const panel = document.getElementById("panel-charts");
  if (range) panel.dataset.zoom = range[0] + "-" + range[1];
  else delete panel.dataset.zoom;
  document.getElementById("btn-zoom-reset").disabled = !range;
  drawCharts();
}

function drawCharts() {
  for (const spec of CHARTS) drawChart(spec);
}

// Fetches the history and redraws (called by the page while the Charts tab is shown).
async function refreshCharts() {
  try {
    const response = await fetch("/ui/history", { cache: "no-store" });
    if (!response.ok) return;
    chartState.data = await response.json();
  } catch (e) {
    return;
  }
  if (!chartState.hovering) drawCharts();
}

document.getElementById("btn-zoom-reset").addEventListener("click", () => setZoom(null));
window.addEventListener("resize", () => {
  if (!document.getElementById("panel-charts").hidden) drawCharts();
});
