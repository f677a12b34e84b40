// reenact studio page: vanilla JS, no external resources. See reenact/studio/app.py for the API.
"use strict";

const $ = (id) => document.getElementById(id);
const S = {
  sid: null, info: null, photo: null, relative: true, values: {}, own: {}, seq: 0,
  inflight: false, pending: null, emotion: null, gestures: new Set(), keys: [], driver: null,
  stats: [], previewing: false,
};
window.studio = S; // for tests and the benchmark

// ------------------------------------------------------------------ http

async function api(path, { method = "POST", json, body, raw = false } = {}) {
  const opts = { method, headers: {} };
  if (json !== undefined) { opts.body = JSON.stringify(json); opts.headers["Content-Type"] = "application/json"; }
  if (body !== undefined) { opts.body = body; opts.headers["Content-Type"] = "application/octet-stream"; }
  const res = await fetch(path, opts);
  if (!res.ok) {
    let text = `the server answered ${res.status}`;
    try { text = (await res.json()).error || text; } catch (e) { /* not JSON */ }
    throw new Error(text);
  }
  if (raw) return res;
  return res.status === 204 ? null : res.json();
}
const sapi = (path, opts) => api(`/api/s/${S.sid}${path}`, opts);
const fileUrl = (id, download) => `/api/s/${S.sid}/files/${id}${download ? "?download=1" : ""}`;

function say(text, kind = "error") {
  const m = $("message");
  m.textContent = text; m.className = kind; m.hidden = !text;
  if (kind !== "error" && text) setTimeout(() => { if (m.textContent === text) m.hidden = true; }, 4000);
}
function busy(text) { $("busy").textContent = text || ""; }
async function guarded(fn) {
  try { say(""); await fn(); } catch (e) { say(e.message.replace(/^Error: /, "")); } finally { busy(""); }
}

// ------------------------------------------------------------------ sliders

const sides = (au) => [`${au}_L`, `${au}_R`];
function sliderNames() { return S.info.cond_names; }
function base(name) { return S.relative ? 0 : (S.own[name] || 0); }

function buildSliders() {
  const root = $("sliders");
  root.textContent = "";
  for (const group of S.info.groups) {
    const fs = document.createElement("fieldset");
    fs.innerHTML = `<legend>${group.name}</legend>`;
    for (const au of group.aus) fs.appendChild(au.sided ? sidedRow(au) : sliderRow(au.name, au));
    root.appendChild(fs);
  }
}

function sliderRow(name, au, side) {
  const row = document.createElement("div");
  row.className = "slider";
  const label = (side ? `<span class="side">${side === "L" ? "left" : "right"}</span>`
    : `<b>${au.name}</b> ${au.description}`) + ` <span class="own" id="w-${name}"></span>`;
  row.innerHTML = `<label for="s-${name}">${label}</label>
    <input type="range" id="s-${name}" data-au="${name}" min="-1" max="1" step="0.01" value="0">
    <output id="o-${name}">0.00</output>`;
  row.querySelector("input").addEventListener("input", (ev) => onSlider(name, +ev.target.value));
  return row;
}

function sidedRow(au) {
  const box = document.createElement("div");
  box.className = "sided";
  box.innerHTML = `<div class="sided-head"><b>${au.name}</b> ${au.description}
    <label class="muted"><input type="checkbox" id="link-${au.name}" checked> both sides</label></div>`;
  for (const side of ["L", "R"]) box.appendChild(sliderRow(`${au.name}_${side}`, au, side));
  return box;
}

function onSlider(name, value) {
  const au = name.replace(/_[LR]$/, "");
  const linked = name !== au && $(`link-${au}`).checked;
  for (const n of linked ? sides(au) : [name]) S.values[n] = value;
  showValues();
  requestEdit();
}

function showValues() {
  for (const name of sliderNames()) {
    const input = $(`s-${name}`);
    input.min = S.relative ? -1 : 0;
    input.value = S.values[name] ?? base(name);
    $(`o-${name}`).textContent = (+input.value).toFixed(2);
    $(`w-${name}`).textContent = S.photo ? `face ${(S.own[name] || 0).toFixed(2)}` : "";
  }
}

function resetValues() {
  S.values = {};
  for (const name of sliderNames()) S.values[name] = base(name);
}

function setMode(relative) {
  if (relative === S.relative) return;
  for (const name of sliderNames()) { // keep the same face: convert the values
    const own = S.own[name] || 0;
    const v = S.values[name] ?? base(name);
    S.values[name] = relative ? +(v - own).toFixed(4) : Math.min(1, Math.max(0, own + v));
  }
  S.relative = relative;
  $("mode-relative").classList.toggle("active", relative);
  $("mode-absolute").classList.toggle("active", !relative);
  showValues();
  requestEdit();
}

// ------------------------------------------------------------------ presets

function buildPresets() {
  for (const [root, names, toggle] of [["emotions", S.info.emotions, false], ["gestures", S.info.gestures, true]]) {
    for (const name of names) {
      const b = document.createElement("button");
      b.textContent = name.replace(/_/g, " ");
      b.id = `preset-${name}`;
      b.className = "preset needs-photo";
      b.disabled = true;
      b.addEventListener("click", () => (toggle ? toggleGesture(name) : setEmotion(name)));
      $(root).appendChild(b);
    }
  }
}

function applyPresets() {
  // relative: the presets add to the face's own AUs; absolute: an emotion replaces the face's own
  // expression, gestures (wink, blink, half smile) go on top of whatever is set.
  const k = +$("intensity").value;
  resetValues();
  if (S.emotion && !S.relative) for (const name of sliderNames()) S.values[name] = 0;
  for (const name of [S.emotion, ...S.gestures].filter(Boolean)) {
    for (const [au, v] of Object.entries(S.info.presets[name])) S.values[au] = Math.max(S.values[au], v * k);
  }
  markPresets();
  showValues();
  requestEdit();
}
function markPresets() {
  for (const b of document.querySelectorAll(".preset")) {
    const name = b.id.slice(7);
    b.classList.toggle("active", name === S.emotion || S.gestures.has(name));
  }
}
function setEmotion(name) { S.emotion = S.emotion === name ? null : name; applyPresets(); }
function toggleGesture(name) {
  // A gesture goes on top of the sliders as they are (a wink over a smile); off: its AUs rest again.
  const on = !S.gestures.has(name), k = +$("intensity").value;
  on ? S.gestures.add(name) : S.gestures.delete(name);
  for (const [au, v] of Object.entries(S.info.presets[name])) S.values[au] = on ? Math.max(S.values[au], v * k) : base(au);
  markPresets();
  showValues();
  requestEdit();
}

// ------------------------------------------------------------------ the slider path

function editBody(values, relative) { return { values, relative, seq: ++S.seq }; }

function requestEdit(values = null, relative = null) {
  // Only the latest state is rendered: one request in flight, the newest waiting behind it.
  S.pending = { values: values || { ...S.values }, relative: relative ?? S.relative, t0: performance.now() };
  if (!S.inflight) requestAnimationFrame(sendEdit);
}

async function sendEdit() {
  if (S.inflight || !S.pending || !S.photo) return;
  const job = S.pending;
  S.pending = null;
  S.inflight = true;
  try {
    const body = editBody(job.values, job.relative);
    const res = await sapi("/edit", { json: body, raw: true });
    if (res.status === 200) await drawRegion(res, body.seq, job.t0);
  } catch (e) {
    say(e.message);
  } finally {
    S.inflight = false;
    if (S.pending) sendEdit();
  }
}

async function drawRegion(res, seq, t0) {
  const [x0, y0] = res.headers.get("X-Box").split(",").map(Number);
  const bitmap = await createImageBitmap(await res.blob());
  $("canvas").getContext("2d").drawImage(bitmap, x0, y0);
  const canvas = $("canvas");
  canvas.dataset.seq = String(seq);
  const ms = performance.now() - t0;
  S.stats.push(ms);
  $("latency").textContent = `last edit ${ms.toFixed(0)} ms`;
}

// ------------------------------------------------------------------ photo

async function showPhoto(photo) {
  S.photo = photo;
  S.own = {};
  for (const name of sliderNames()) S.own[name] = photo.aus[name];
  S.emotion = null; S.gestures.clear();
  resetValues(); markPresets(); showValues();
  const img = new Image();
  img.src = fileUrl(photo.display);
  await img.decode();
  const canvas = $("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  $("stage").style.setProperty("--aspect", String(img.naturalWidth / img.naturalHeight));
  canvas.getContext("2d").drawImage(img, 0, 0);
  canvas.dataset.seq = "0";
  canvas.dataset.photo = photo.display;
  $("empty").hidden = true;
  for (const el of document.querySelectorAll(".needs-photo")) el.disabled = false;
  $("video-render").disabled = !S.driver;
  showFaces();
}

function showFaces() {
  const photo = S.photo, faces = $("faces"), boxes = $("boxes");
  faces.textContent = ""; boxes.textContent = "";
  if (photo.faces.length < 2) { faces.textContent = "1 face"; return; }
  faces.append(`${photo.faces.length} faces: `);
  for (const f of photo.faces) {
    const b = document.createElement("button");
    b.textContent = `face ${f.index + 1}`;
    b.className = f.index === photo.face ? "active" : "";
    b.addEventListener("click", () => chooseFace(f.index));
    faces.appendChild(b);
    const [x0, y0, x1, y1] = f.box, w = photo.width, h = photo.height;
    const d = document.createElement("div");
    d.className = "facebox" + (f.index === photo.face ? " active" : "");
    Object.assign(d.style, { left: `${100 * x0 / w}%`, top: `${100 * y0 / h}%`,
      width: `${100 * (x1 - x0) / w}%`, height: `${100 * (y1 - y0) / h}%` });
    d.title = `edit face ${f.index + 1}`;
    d.textContent = f.index + 1;
    d.addEventListener("click", () => chooseFace(f.index));
    boxes.appendChild(d);
  }
}

const chooseFace = (k) => guarded(async () => {
  busy("preparing that face…");
  await showPhoto(await sapi(`/face/${k}`));
});

const uploadPhoto = (file) => guarded(async () => {
  busy(`reading ${file.name}…`);
  await showPhoto(await sapi(`/photo?name=${encodeURIComponent(file.name)}`, { body: file }));
});

const examplePhoto = (name) => guarded(async () => {
  busy(`loading ${name}…`);
  await showPhoto(await sapi(`/example/${encodeURIComponent(name)}`));
});

function download(id, filename) {
  const a = $("download-link");
  a.href = fileUrl(id, true); a.download = filename; a.click();
}

const exportAs = (format) => guarded(async () => {
  const r = await sapi("/export", { json: { values: { ...S.values }, relative: S.relative, format } });
  download(r.file, r.filename);
});

// ------------------------------------------------------------------ jobs

async function runJob(panel, start, onDone) {
  const box = $(panel), bar = box.querySelector("progress"), text = box.querySelector(".job-text");
  box.hidden = false; bar.value = 0; text.textContent = "starting…";
  let job = await start();
  box.querySelector(".job-cancel").onclick = () => sapi(`/jobs/${job.id}`, { method: "DELETE" }).catch(() => {});
  while (job.state === "queued" || job.state === "running") {
    bar.value = job.progress;
    text.textContent = job.state === "queued" ? `waiting: number ${job.position} in the queue`
      : `${job.stage}${job.total ? ` ${job.done}/${job.total}` : ""} (${Math.round(100 * job.progress)} %)`;
    await new Promise((r) => setTimeout(r, 400));
    job = await sapi(`/jobs/${job.id}`, { method: "GET" });
  }
  bar.value = job.state === "done" ? 1 : 0;
  text.textContent = job.state === "done" ? `done in ${job.seconds.toFixed(1)} s` : job.state;
  if (job.state === "error") throw new Error(job.error);
  if (job.state === "done") onDone(job.files);
}

// ------------------------------------------------------------------ script tab

function addKey() {
  const t = Math.max(0, +$("key-t").value || 0);
  S.keys = S.keys.filter((k) => k.t !== t);
  S.keys.push({ t, ease: $("key-ease").value, values: { ...S.values }, relative: S.relative });
  S.keys.sort((a, b) => a.t - b.t);
  $("key-t").value = (t + 1).toFixed(1);
  showKeys();
}

function showKeys() {
  const list = $("keys");
  list.textContent = "";
  for (const key of S.keys) {
    const li = document.createElement("li");
    const top = Object.entries(key.values).filter(([, v]) => Math.abs(v) > 0.05)
      .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 4)
      .map(([n, v]) => `${n} ${v > 0 && key.relative ? "+" : ""}${v.toFixed(2)}`).join(", ");
    li.innerHTML = `<b>${key.t.toFixed(2)} s</b> <span class="muted">${key.ease}</span> ${top || "rest"} `;
    const load = document.createElement("button");
    load.textContent = "load";
    load.onclick = () => { setMode(key.relative); S.values = { ...key.values }; showValues(); requestEdit(); };
    const del = document.createElement("button");
    del.textContent = "✕"; del.title = "remove";
    del.onclick = () => { S.keys = S.keys.filter((k) => k !== key); showKeys(); };
    li.append(load, del);
    list.appendChild(li);
  }
}

async function makeScript() {
  if (!S.keys.length) throw new Error("add at least one keyframe first");
  const duration = $("script-duration").value ? +$("script-duration").value : null;
  return sapi("/script", { json: { fps: +$("script-fps").value || 25, duration, keyframes: S.keys } });
}

const previewScript = () => guarded(async () => {
  const script = await makeScript();
  const start = performance.now();
  S.previewing = true;
  const step = () => {
    const i = Math.floor((performance.now() - start) / 1000 * script.fps);
    if (i >= script.frames || !S.previewing) { S.previewing = false; requestEdit(); return; }
    const values = Object.fromEntries(script.names.map((n, j) => [n, script.values[i][j]]));
    requestEdit(values, false);
    requestAnimationFrame(step);
  };
  step();
});

const renderScript = () => guarded(async () => {
  const script = await makeScript();
  $("script-result").hidden = true;
  await runJob("script-job", () => sapi("/render/script", { json: { script: script.script } }), (files) => {
    $("script-video").src = fileUrl(files.video);
    $("script-mp4").href = fileUrl(files.video, true);
    $("script-yaml").href = fileUrl(files.script, true);
    $("script-result").hidden = false;
  });
});

// ------------------------------------------------------------------ video tab

function showDriver(info) {
  S.driver = info;
  const audio = info.audio ? "with audio" : "no audio";
  $("video-info").textContent = `${info.name}: ${info.width}x${info.height}, ${info.frames} frames at ` +
    `${info.fps.toFixed(2)} fps (${info.seconds.toFixed(1)} s), ${audio}`;
  $("driver-video").src = fileUrl(info.video);
  $("result-video").removeAttribute("src");
  $("video-result").hidden = false;
  $("video-render").disabled = !S.photo;
}

const uploadVideo = (file) => guarded(async () => {
  busy(`uploading ${file.name}…`);
  showDriver(await sapi(`/video?name=${encodeURIComponent(file.name)}`, { body: file }));
});
const exampleVideo = (name) => guarded(async () => showDriver(await sapi(`/example-video/${name}`)));

const renderVideo = () => guarded(async () => {
  const only = [...document.querySelectorAll("#v-groups input")].filter((c) => c.checked).map((c) => c.value);
  const all = only.length === S.info.transfer_groups.length;
  const body = { video: S.driver.video, mode: $("v-mode").value, motion: $("v-motion").value,
    strength: +$("v-strength").value, only: all ? [] : only,
    seconds: $("v-seconds").value ? +$("v-seconds").value : null };
  if (!only.length) throw new Error("choose at least one AU group");
  await runJob("video-job", () => sapi("/render/video", { json: body }), (files) => {
    $("result-video").src = fileUrl(files.video);
    $("v-mp4").href = fileUrl(files.video, true);
    $("v-csv").href = fileUrl(files.csv, true);
    $("v-plot").href = fileUrl(files.plot, true);
    $("v-plot-img").src = fileUrl(files.plot);
  });
});

function playBoth() {
  for (const v of [$("driver-video"), $("result-video")]) { v.currentTime = 0; v.play().catch(() => {}); }
}

// ------------------------------------------------------------------ start

function setTab(tab) {
  document.body.className = `tab-${tab}`;
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.tab === tab);
  if (!S.photo) return;
  if (tab === "video") drawPhoto(); // a driving video moves the photo as it is, not the slider edit
  else requestEdit();
}

async function drawPhoto() {
  const img = new Image();
  img.src = fileUrl(S.photo.display);
  await img.decode();
  $("canvas").getContext("2d").drawImage(img, 0, 0);
}

function wire() {
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => setTab(b.dataset.tab));
  $("photo-file").addEventListener("change", (e) => e.target.files[0] && uploadPhoto(e.target.files[0]));
  $("photo-example").addEventListener("change", (e) => e.target.value && examplePhoto(e.target.value));
  $("video-file").addEventListener("change", (e) => e.target.files[0] && uploadVideo(e.target.files[0]));
  $("video-example").addEventListener("change", (e) => e.target.value && exampleVideo(e.target.value));
  $("mode-relative").onclick = () => setMode(true);
  $("mode-absolute").onclick = () => setMode(false);
  $("reset").onclick = () => { S.emotion = null; S.gestures.clear(); applyPresets(); };
  $("intensity").addEventListener("input", (e) => {
    $("intensity-value").textContent = (+e.target.value).toFixed(2);
    if (S.emotion || S.gestures.size) applyPresets();
  });
  $("v-strength").addEventListener("input", (e) => { $("v-strength-value").textContent = (+e.target.value).toFixed(2); });
  $("dl-png").onclick = () => exportAs("png");
  $("dl-csv").onclick = () => exportAs("csv");
  $("dl-yaml").onclick = () => exportAs("yaml");
  $("key-add").onclick = addKey;
  $("script-preview").onclick = previewScript;
  $("script-render").onclick = renderScript;
  $("video-render").onclick = renderVideo;
  $("play-both").onclick = playBoth;
}

function fillExamples() {
  for (const [id, names] of [["photo-example", S.info.examples.photos], ["video-example", S.info.examples.videos]]) {
    for (const n of names) $(id).add(new Option(n.replace(/_/g, " "), n));
  }
  for (const g of S.info.transfer_groups) {
    $("v-groups").insertAdjacentHTML("beforeend", `<label><input type="checkbox" value="${g}" checked> ${g}</label>`);
  }
}

async function start() {
  wire();
  S.info = await api("/api/info", { method: "GET" });
  $("model").textContent = `model: ${S.info.model}`;
  buildSliders(); buildPresets(); fillExamples();
  resetValues(); showValues();
  const session = await api("/api/session");
  S.sid = session.session;
  setInterval(() => api(`/api/s/${S.sid}/ping`).catch((e) => say(e.message)), 10000);
  window.addEventListener("pagehide", () => navigator.sendBeacon(`/api/s/${S.sid}/close`));
  S.readyMs = performance.now(); // since navigation start
  document.body.dataset.ready = "1";
}

start().catch((e) => say(e.message));
