// The live view: one server-sent event per iteration; the picture is fetched when it changes.
// Every request carries the page's token in a header (no cookie, which the browser would send to every local port):
// the token comes from this page's own address, and is kept in this tab's session storage for a reload.
"use strict";
const TOKEN = new URLSearchParams(location.search).get("token") || sessionStorage.getItem("neural-style-token") || "";
sessionStorage.setItem("neural-style-token", TOKEN);
const HEADERS = { "X-Neural-Style-Token": TOKEN };
function ask(path, options) { return fetch(path, Object.assign({ headers: HEADERS, cache: "no-store" }, options || {})); }
function showImage(id, path) {
  // A picture fetched with the token, shown as a blob (an <img src> could not send the header).
  return ask(path).then(response => response.ok ? response.blob() : null).then(blob => {
    if (!blob) return false;
    const img = document.getElementById(id), old = img.src;
    img.src = URL.createObjectURL(blob);
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    return true;
  }).catch(() => false);
}
// The total's colour, then one per term, in the order the points name them (the run's objective decides).
const TOTAL_COLOUR = "#f0f0f0", TERM_COLOURS = ["#4fa3e0", "#e0a34f", "#7fd07f", "#c08fe0", "#e07f7f", "#b0a070"];
function curveColours(point) {
  const colours = { total: TOTAL_COLOUR };
  Object.keys(point || {}).filter(k => k !== "iteration" && k !== "total")
    .forEach((k, i) => { colours[k] = TERM_COLOURS[i % TERM_COLOURS.length]; });
  return colours;
}
let history = [];
let loading = false, wanted = -1, shown = -1, finished = false;

function clock(seconds) {
  if (seconds === null || seconds === undefined) return "\u2013";
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
}

function refreshPicture(version) {
  // Fetch the picture only when the last one has arrived (a slow page never queues requests), and
  // show it only once it is whole: the visible picture is never blank while the next one loads.
  wanted = version;
  if (loading || wanted === shown) return;
  loading = true;
  const asked = wanted;
  ask("/image/current.png?v=" + asked)
    .then(response => response.ok ? response.blob() : null)
    .then(blob => {
      if (blob && !finished) {  // a fetch still under way when the final picture came is dropped
        const img = document.getElementById("current"), old = img.src;
        img.src = URL.createObjectURL(blob);
        if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      }
    })
    .catch(() => {})
    .finally(() => { loading = false; shown = asked; if (wanted !== shown && !finished) refreshPicture(wanted); });
}

function showLegend(colours) {
  const legend = document.getElementById("legend");
  const names = Object.keys(colours).join(",");
  if (legend.dataset.names === names) return;
  legend.dataset.names = names;
  legend.replaceChildren(...Object.entries(colours).map(([name, colour]) => {
    const span = document.createElement("span");
    span.textContent = name; span.style.setProperty("--colour", colour);
    return span;
  }));
}

function drawCurve() {
  const canvas = document.getElementById("curve"), g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 34;
  g.clearRect(0, 0, w, h);
  const points = history.filter(p => p.total > 0);
  if (points.length < 1) return;
  const colours = curveColours(points[0]);
  showLegend(colours);
  let low = Infinity, high = -Infinity;
  for (const p of points) for (const k of Object.keys(colours)) if (p[k] > 0) {
    low = Math.min(low, Math.log10(p[k])); high = Math.max(high, Math.log10(p[k]));
  }
  if (high - low < 1e-6) { high += 0.5; low -= 0.5; }
  const first = points[0].iteration, last = Math.max(points[points.length - 1].iteration, first + 1);
  const x = it => pad + (w - pad - 8) * (it - first) / (last - first);
  const y = v => 8 + (h - pad - 8) * (high - Math.log10(v)) / (high - low);
  g.strokeStyle = "#444"; g.fillStyle = "#999"; g.font = "11px sans-serif"; g.lineWidth = 1;
  for (let e = Math.ceil(low); e <= Math.floor(high); e++) {
    g.beginPath(); g.moveTo(pad, y(10 ** e)); g.lineTo(w - 8, y(10 ** e)); g.stroke();
    g.fillText("1e" + e, 2, y(10 ** e) + 4);
  }
  g.fillText("iteration " + last, w - 90, h - 8);
  for (const [name, colour] of Object.entries(colours)) {
    g.strokeStyle = colour; g.lineWidth = name === "total" ? 2 : 1.2; g.beginPath();
    let started = false;
    for (const p of points) {
      if (!(p[name] > 0)) { started = false; continue; }
      started ? g.lineTo(x(p.iteration), y(p[name])) : g.moveTo(x(p.iteration), y(p[name]));
      started = true;
    }
    g.stroke();
  }
}

function show(state) {
  if (state.history) history = state.history;
  else if (state.loss && (!history.length || history[history.length - 1].iteration !== state.loss.iteration)) history.push(state.loss);
  document.getElementById("iteration").textContent = state.iteration;
  document.getElementById("total").textContent = state.total_iterations;
  document.getElementById("scale").textContent = state.scale || "\u2013";
  document.getElementById("speed").textContent = state.seconds_per_evaluation ? state.seconds_per_evaluation.toFixed(2) : "\u2013";
  document.getElementById("left").textContent = state.status === "running" ? clock(state.seconds_left) : "\u2013";
  document.getElementById("loss").textContent = state.loss && state.loss.total !== null ? state.loss.total.toPrecision(4) : "\u2013";
  const status = document.getElementById("status");
  status.textContent = { starting: "starting", running: "running", done: "finished", stopped: "stopped", failed: "failed" }[state.status] || state.status;
  status.className = "status " + state.status;
  document.getElementById("message").textContent = state.message || "";
  drawCurve();
  if (state.final_image) {
    finished = true;
    const img = document.getElementById("current");
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = state.final_image;
    document.getElementById("stop").disabled = true;
  } else if (state.iteration > 0) {
    refreshPicture(state.version);
  }
}

// The server-sent events, read from a fetch (EventSource cannot send a header); reconnected after a drop.
async function follow() {
  while (!finished) {
    try {
      const response = await ask("/events");
      if (!response.ok) return;
      const reader = response.body.getReader(), decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter(line => line.startsWith("data: ")).map(line => line.slice(6)).join("\n");
          if (data) show(JSON.parse(data));
        }
      }
    } catch (error) { /* dropped: try again */ }
    if (!finished) await new Promise(resolve => setTimeout(resolve, 1000));
  }
}

// The pictures the page opens with: the current one (none before the first step) and the inputs.
showImage("current", "/image/current.png");
showImage("content", "/image/content.png");
showImage("style", "/image/style/0.png");
follow();

document.getElementById("stop").addEventListener("click", () => {
  const button = document.getElementById("stop");
  button.disabled = true; button.textContent = "Stopping\u2026";
  ask("/stop", { method: "POST" });
});
