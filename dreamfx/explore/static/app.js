// dreamfx explore: the page. Plain JavaScript, no build step; it uses the HTTP API and the
// websocket /api/live (docs/explore.md). The token travels in the cookie the page set.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { photo: "", preset: "single-map", layer: "", map: "", steps: "", rounds: "", step_size: "",
                scaler: "", color: "gray", seed: "", mask: "" };
const KEYS = Object.keys(state);
let presets = {}, socket = null, sent = 0, shownId = 0, lastPng = null, responses = [];

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const key of KEYS) if (params.has(key)) state[key] = params.get(key);
}
function writeHash() {
  const params = new URLSearchParams();
  for (const key of KEYS) if (state[key] !== "" && state[key] !== null) params.set(key, state[key]);
  history.replaceState(null, "", location.pathname + "#" + params.toString());  // the token stays out of it
}
function query(extra) {
  const params = new URLSearchParams();
  params.set("photo", state.photo); params.set("preset", state.preset);
  for (const s of sets()) params.append("set", s);
  if (state.seed !== "") params.set("seed", state.seed);
  for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
  return params.toString();
}
function preset() { return (presets[state.preset] || {}).settings || {}; }
// the --set overrides that differ from the preset: what the command line would say
function sets() {
  const p = preset(), out = [];
  const differs = (section, key, value) => value !== "" && String((p[section] || {})[key]) !== String(value);
  if (state.scaler !== "" && (p.scaler || {}).name !== state.scaler) out.push("scaler=" + state.scaler);
  if (differs("objective", "layer", state.layer)) out.push("objective.layer=" + state.layer);
  if (differs("objective", "map", state.map)) out.push("objective.map=" + state.map);
  if (differs("optimizer", "steps", state.steps)) out.push("optimizer.steps=" + state.steps);
  if (differs("optimizer", "step_size", state.step_size)) out.push("optimizer.step_size=" + state.step_size);
  if (differs("loop", "rounds", state.rounds)) out.push("loop.rounds=" + state.rounds);
  return out;
}
async function api(path) {
  const answer = await fetch(path, { credentials: "same-origin" });
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.error || answer.statusText);
  return body;
}
function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}
function fillControls() {
  const p = preset();
  const value = (id, fallback) => { $(id).value = state[id] !== "" ? state[id] : (fallback ?? ""); };
  value("map", (p.objective || {}).map); value("steps", (p.optimizer || {}).steps);
  value("rounds", (p.loop || {}).rounds); value("step_size", (p.optimizer || {}).step_size);
  value("scaler", (p.scaler || {}).name); value("color", "gray"); value("seed", "");
  $("preset").value = state.preset; $("photo").value = state.photo;
}

async function loadPhotos(select) {
  const body = await api("/api/photos");
  $("photo").innerHTML = "";
  for (const p of body.photos) {
    const option = new Option(`${p.name.split("/").pop()} (${p.width}x${p.height}, ${p.source})`, p.id);
    $("photo").add(option);
  }
  state.photo = select || state.photo || body.photos[body.photos.length > 1 ? 1 : 0].id;
  if (!body.photos.some((p) => p.id === state.photo)) state.photo = body.photos[0].id;
  $("photo").value = state.photo;
  $("before").src = `/api/photos/${state.photo}.png`;
}

// the uploaded mask (white: dream, black: keep the photo), or none
function showMask(mask) {
  state.mask = mask ? mask.id : "";
  $("mask-box").hidden = !mask;
  if (mask) { $("mask-name").textContent = mask.name; $("mask-name").href = mask.download; $("mask-name").download = mask.name; }
  $("mask-upload").value = "";
  writeHash();
}
async function loadMask() {
  if (!state.mask) return showMask(null);
  const body = await api("/api/masks");
  showMask(body.masks.find((m) => m.id === state.mask) || null);  // a mask the server no longer keeps: none
}

async function loadLayers() {
  const body = await api("/api/layers?" + query());
  $("layer").innerHTML = "";
  for (const l of body.layers.filter((l) => l.kind === "maps")) $("layer").add(new Option(`${l.name} (${l.maps})`, l.name));
  $("layer").value = state.layer || body.layer || "";
}

async function loadMaps() {
  const layer = $("layer").value;
  if (!layer) { $("grid").innerHTML = ""; return; }
  $("maps-title").textContent = `maps of ${layer}: pattern (OIP) and response to the photo`;
  const [found, patterns] = await Promise.all([
    api("/api/responses?" + query({ layer })), api("/api/oip?" + query({ layer })).catch(() => null)]);
  responses = found.responses;
  const top = Math.max(...responses, 1e-9);
  const grid = $("grid");
  grid.innerHTML = "";
  responses.forEach((value, k) => {
    const tile = document.createElement("div");
    tile.className = "tile" + (value === 0 ? " silent" : "");
    tile.dataset.map = k;
    tile.title = `map ${k}: mean response ${value.toPrecision(3)}` + (value === 0 ? " (silent on this photo)" : "");
    const img = document.createElement("img");
    if (patterns) img.src = patterns.maps[k].png;
    const bar = document.createElement("div");
    bar.className = "strength"; bar.style.width = (100 * value / top).toFixed(1) + "%";
    const label = document.createElement("div");
    label.textContent = k;
    tile.append(img, bar, label);
    tile.addEventListener("click", () => { state.map = String(k); $("map").value = k; changed(); });
    grid.append(tile);
  });
  markChosen();
}
function markChosen() {
  const chosen = $("map").value;
  for (const tile of document.querySelectorAll(".tile")) tile.classList.toggle("chosen", tile.dataset.map === chosen);
}

async function atlas() {
  $("atlas").disabled = true;
  try {
    const body = await api("/api/atlas?" + query({ layer: $("layer").value }));
    for (const entry of body.maps) {
      const tile = document.querySelector(`.tile[data-map="${entry.map}"]`);
      if (!tile) continue;
      tile.querySelector("img").src = entry.png;
      tile.classList.toggle("silent", entry.silent);
      tile.title = `map ${entry.map}: ${entry.score_before.toPrecision(3)} -> ${entry.score_after.toPrecision(3)}` +
        (entry.silent ? " (silent)" : entry.gain ? ` (x${entry.gain.toFixed(1)})` : "");
    }
  } catch (e) { showError(e.message); } finally { $("atlas").disabled = false; }
}

function bars(id, values) {
  const box = $(id);
  for (const old of box.querySelectorAll(".bar")) old.remove();
  (values || []).forEach((v, digit) => {
    const bar = document.createElement("div");
    bar.className = "bar"; bar.style.height = Math.max(1, 60 * v).toFixed(1) + "px";
    bar.title = `${digit}: ${(100 * v).toFixed(1)}%`;
    const label = document.createElement("span"); label.textContent = digit;
    bar.append(label); box.append(bar);
  });
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/api/live`);
  socket.onmessage = (event) => {
    const m = JSON.parse(event.data);
    if (m.id !== sent && m.id !== null) return;  // an older request's: it was cancelled
    if (m.type === "frame") {
      $("after").src = m.image;
      $("status").textContent = `round ${m.round + 1} of ${m.rounds}` + (m.score !== null ? `, score ${m.score.toPrecision(4)}` : "");
    } else if (m.type === "done") {
      shownId = m.id; lastPng = m.png;
      $("after").src = m.png; $("download").href = m.png;
      $("download").download = ($("photo").selectedOptions[0]?.text.split(" ")[0] || "photo").replace(/\.[^.]*$/, "") + "-dream.png";
      $("command").value = m.command;
      $("scores").textContent = `${m.objective}: ${m.score_before.toPrecision(4)} -> ${m.score_after.toPrecision(4)}`;
      $("status").textContent = m.silent ? m.silent : `done in ${m.seconds.toFixed(2)} s`;
      $("status").dataset.done = String(m.id);
      bars("bars-before", m.classes_before); bars("bars-after", m.classes_after);
      $("panel").src = m.panel; $("panel-box").hidden = false;
      $("mask-note").hidden = !m.mask; $("mask-note").textContent = m.mask ? m.mask.note : "";
      showError("");
    } else if (m.type === "error") {
      showError(m.error); $("status").textContent = "error";
    }
  };
  socket.onclose = () => { setTimeout(connect, 1000); };
  return new Promise((resolve) => { socket.onopen = resolve; });
}
function dream() {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  sent += 1;
  $("status").textContent = "dreaming...";
  delete $("status").dataset.done;
  socket.send(JSON.stringify({ type: "dream", id: sent, photo: state.photo, preset: state.preset, set: sets(),
                               seed: state.seed === "" ? null : state.seed, color: state.color,
                               mask: state.mask || null }));
}
function changed() {
  for (const id of ["map", "steps", "rounds", "step_size", "scaler", "color", "seed"]) state[id] = $(id).value;
  writeHash(); markChosen(); dream();
}

async function start() {
  readHash();
  try {
    const body = await api("/api/presets");
    for (const p of body.presets) { presets[p.name] = p; $("preset").add(new Option(p.name, p.name)); }
    await loadPhotos();
    await loadMask();
    fillControls();
    await loadLayers();
    await connect();
    changed();
    loadMaps().catch((e) => showError(e.message));
  } catch (e) { showError(e.message); }
  for (const id of ["map", "steps", "rounds", "step_size", "scaler", "color", "seed"]) $(id).addEventListener("change", changed);
  $("map").addEventListener("input", changed);
  $("photo").addEventListener("change", async () => {
    state.photo = $("photo").value; $("before").src = `/api/photos/${state.photo}.png`; changed();
    loadMaps().catch((e) => showError(e.message));
  });
  $("preset").addEventListener("change", async () => {
    state.preset = $("preset").value;
    for (const k of ["map", "steps", "rounds", "step_size", "scaler", "seed", "layer"]) state[k] = "";
    fillControls(); await loadLayers(); changed(); loadMaps().catch((e) => showError(e.message));
  });
  $("layer").addEventListener("change", () => {
    state.layer = $("layer").value; state.map = "0"; $("map").value = 0; changed();
    loadMaps().catch((e) => showError(e.message));
  });
  $("upload").addEventListener("change", async () => {
    const file = $("upload").files[0];
    if (!file) return;
    const form = new FormData(); form.append("photo", file);
    const answer = await fetch("/api/photos", { method: "POST", body: form, credentials: "same-origin" });
    const body = await answer.json();
    if (!answer.ok) { showError(body.error); return; }
    await loadPhotos(body.id); changed(); loadMaps().catch((e) => showError(e.message));
  });
  $("mask-upload").addEventListener("change", async () => {
    const file = $("mask-upload").files[0];
    if (!file) return;
    const form = new FormData(); form.append("mask", file);
    const answer = await fetch("/api/masks", { method: "POST", body: form, credentials: "same-origin" });
    const body = await answer.json();
    if (!answer.ok) { showError(body.error); $("mask-upload").value = ""; return; }
    showMask(body); changed();
  });
  $("mask-remove").addEventListener("click", async () => {
    const id = state.mask;
    showMask(null); changed();
    if (id) await fetch(`/api/masks/${id}`, { method: "DELETE", credentials: "same-origin" });
  });
  $("divider").addEventListener("input", () => {
    $("after-clip").style.clipPath = `inset(0 ${100 - $("divider").value}% 0 0)`;
  });
  $("copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText($("command").value); $("copy").textContent = "copied"; }
    catch (e) { $("command").select(); document.execCommand("copy"); }
  });
  $("atlas").addEventListener("click", atlas);
}
document.addEventListener("DOMContentLoaded", start);
