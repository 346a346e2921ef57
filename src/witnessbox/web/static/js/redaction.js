// The redaction editor: one item's plan (regions to hide, sound to mute or bleep, the effect),
// drawn over the browser copy in step with playback, edited, saved, previewed and rendered,
// all through /api/v1/items/{id}/redaction. No inline code (CSP): sizes and positions are set
// here through element.style, and the page's facts come in data-* attributes.

import {
  EDGE_S, MIN_SIZE, boxAt, clamp, fit, mergeFollowed, nextManualId, setKeyframe, span,
} from "./redaction-plan.js";

const editor = document.getElementById("editor");
const api = editor.dataset.api;
const fps = Number(editor.dataset.fps) || 25;
const csrf = document.body.dataset.csrf || "";
const video = document.getElementById("video");
const overlay = document.getElementById("overlay");
const $ = (id) => document.getElementById(id);

const POLL_MS = 400;
const NUDGE = 0.005; // an arrow key moves or resizes a box by half a percent of the frame

let plan = { effect: "pixelate", regions: [], audio: [] };
let version = 0;
let dirty = false;
let selected = null; // the id of the selected region
let drawing = false;
let media = { width: Number(editor.dataset.width), height: Number(editor.dataset.height),
  duration_s: Number(editor.dataset.duration), fps };

function region(id) {
  return plan.regions.find((r) => r.id === id) || null;
}

// --- talking to the server -----------------------------------------------------------------

async function call(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  const response = await fetch(`${api}${path}`, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const error = new Error(reasonOf(answer, response));
    error.status = response.status;
    throw error;
  }
  return answer;
}

function reasonOf(answer, response) {
  if (answer && typeof answer.error === "string") return answer.error;
  if (answer && Array.isArray(answer.detail)) {
    return answer.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  if (answer && typeof answer.detail === "string") return answer.detail;
  return `the server answered ${response.status} ${response.statusText}`;
}

function say(text) {
  $("status").textContent = text;
}

function fail(text) {
  $("error").textContent = text;
}

// While one request runs, the buttons that start another wait (a double click sends one).
function busy(flag) {
  for (const id of ["detect", "save", "preview", "render", "follow"]) $(id).disabled = flag;
  editor.setAttribute("aria-busy", flag ? "true" : "false");
}

async function guarded(work) {
  fail("");
  busy(true);
  try {
    await work();
  } catch (error) {
    if (error.status === 409) {
      $("conflict-text").textContent = "Someone else saved this plan after you opened it. "
        + "Reload to see their version (your unsaved changes are dropped).";
      $("conflict").hidden = false;
    }
    fail(error.message);
  } finally {
    busy(false);
    refresh();
  }
}

// --- loading and saving the plan -----------------------------------------------------------

async function load() {
  const state = await call("/redaction");
  plan = state.plan ? structuredClone(state.plan) : { effect: "pixelate", regions: [], audio: [] };
  plan.regions.forEach((r) => r.keyframes.sort((a, b) => a.t - b.t));
  version = state.version;
  media = { ...media, ...(state.media || {}) };
  dirty = false;
  if (selected && !region(selected)) selected = null;
  $("conflict").hidden = true;
  shape();
  rebuild();
  return state;
}

function changed() {
  dirty = true;
  rebuild();
}

async function save() {
  const answer = await call("/redaction/plan", { method: "PUT", body: { base_version: version, plan } });
  version = answer.version;
  dirty = false;
  say(`Saved as version ${version}.`);
}

async function saveIfChanged() {
  if (dirty || version === 0) await save();
}

// --- long jobs: detection and rendering ----------------------------------------------------

function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function showProgress(id, job) {
  const bar = $(id);
  bar.hidden = !job || job.state === "done" || job.state === "failed";
  if (job) bar.value = Number(job.progress) || 0;
}

async function watchDetection() {
  for (;;) {
    const state = await call("/redaction");
    const job = state.detection;
    showProgress("detect-progress", job);
    if (!job || job.state === "done") break;
    if (job.state === "failed") throw new Error(`Face detection failed: ${job.error || "no reason given"}`);
    say(`Detecting faces… ${Math.round((job.progress || 0) * 100)}%`);
    await wait(POLL_MS);
  }
  if (dirty) {
    $("conflict-text").textContent = "Face detection saved a new version while you were editing. "
      + "Reload to see the faces it found (your unsaved changes are dropped).";
    $("conflict").hidden = false;
    return;
  }
  await load();
  const found = plan.regions.filter((r) => r.source === "auto").length;
  say(`Detection finished: ${found} face track${found === 1 ? "" : "s"} in plan version ${version}.`);
}

async function detect() {
  if (dirty) await save(); // detection builds on the latest saved version
  await call("/redaction/detect", { method: "POST" });
  $("detect-progress").hidden = false;
  $("detect-progress").value = 0;
  say("Detecting faces…");
  await watchDetection();
}

async function watchRender(renderId) {
  for (;;) {
    const state = await call("/redaction");
    const job = (state.renders || []).find((r) => r.id === renderId);
    showProgress("render-progress", job);
    if (!job) throw new Error("The render is no longer listed; reload the page.");
    if (job.state === "failed") throw new Error(`The render failed: ${job.error || "no reason given"}`);
    if (job.state === "done") return showRedacted(job);
    say(`Rendering version ${job.plan_version}… ${Math.round((job.progress || 0) * 100)}%`);
    await wait(POLL_MS);
  }
}

async function render() {
  await saveIfChanged();
  const answer = await call("/redaction/render", { method: "POST", body: { version } });
  $("render-progress").hidden = false;
  $("render-progress").value = 0;
  say(`Rendering version ${version}…`);
  await watchRender(answer.render_id);
}

function showRedacted(job) {
  const copy = $("redacted");
  copy.src = `${api}/redacted?sha256=${encodeURIComponent(job.sha256 || job.id)}`;
  $("redacted-box").hidden = false;
  $("redacted-facts").textContent = `Plan version ${job.plan_version}` + (job.sha256 ? `, SHA-256 ${job.sha256}` : "");
  say(`The redacted copy of plan version ${job.plan_version} is ready below.`);
}

async function preview() {
  await saveIfChanged();
  const t = video.currentTime;
  const image = $("preview-image");
  const loaded = new Promise((resolve, reject) => {
    image.onload = resolve;
    image.onerror = () => reject(new Error("The preview could not be made; try another moment."));
  });
  image.src = `${api}/redaction/preview?t=${t.toFixed(3)}&version=${version}`;
  $("preview-caption").textContent = `Plan version ${version} at ${timeText(t)}`;
  $("preview-figure").hidden = false;
  await loaded;
  say(`Preview of version ${version} at ${timeText(t)}.`);
}

async function follow() {
  const r = region(selected);
  const t = video.currentTime;
  const box = r && boxAt(r.keyframes, t);
  if (!box) throw new Error("Select a region that has a box at this moment, then follow it.");
  say("Following the region forward and back…");
  const answer = await call("/redaction/follow", { method: "POST", body: { t, box } });
  mergeFollowed(r, answer.keyframes);
  const [from, to] = span(r);
  changed();
  say(`${r.label} followed from ${timeText(from)} to ${timeText(to)} (${r.keyframes.length} keyframes).`);
}

// --- what the page shows -------------------------------------------------------------------

function timeText(seconds) {
  const hundredths = Math.round(seconds * 100);
  const minutes = Math.floor(hundredths / 6000);
  return `${minutes}:${((hundredths % 6000) / 100).toFixed(2).padStart(5, "0")}`;
}

function length() {
  return Number.isFinite(video.duration) && video.duration > 0 ? video.duration : media.duration_s || 0;
}

/** The stage takes the frame's shape, so fractions of the stage are fractions of the frame. */
function shape() {
  const stage = $("stage");
  if (media.width > 0 && media.height > 0) {
    stage.style.aspectRatio = `${media.width} / ${media.height}`;
    stage.style.maxWidth = `calc(70vh * ${media.width / media.height})`;
  }
  $("seek").max = String(length());
}

function place(element, [x, y, w, h]) {
  element.style.left = `${x * 100}%`;
  element.style.top = `${y * 100}%`;
  element.style.width = `${w * 100}%`;
  element.style.height = `${h * 100}%`;
}

function drawBoxes(t) {
  const shown = new Set();
  for (const r of plan.regions) {
    const box = boxAt(r.keyframes, t);
    if (!box) continue;
    shown.add(r.id);
    let element = overlay.querySelector(`.box[data-id="${CSS.escape(r.id)}"]`);
    if (!element) {
      element = document.createElement("div");
      element.className = "box";
      element.dataset.id = r.id;
      for (const corner of ["nw", "ne", "sw", "se"]) {
        const handle = document.createElement("span");
        handle.className = `handle ${corner}`;
        handle.dataset.corner = corner;
        element.append(handle);
      }
      const name = document.createElement("span");
      name.className = "name";
      element.append(name);
      overlay.append(element);
    }
    element.querySelector(".name").textContent = r.label;
    element.classList.toggle("off", !r.enabled);
    element.classList.toggle("manual", r.source === "manual");
    element.classList.toggle("selected", r.id === selected);
    place(element, box);
  }
  for (const element of overlay.querySelectorAll(".box")) {
    if (!shown.has(element.dataset.id)) element.remove();
  }
}

function showTime(t) {
  $("position").textContent = `${timeText(t)} / ${timeText(length())}`;
  if (document.activeElement !== $("seek")) $("seek").value = String(t);
  editor.style.setProperty("--at", `${(length() ? t / length() : 0) * 100}%`);
  drawBoxes(t);
}

function lane(label, spans, { id, off } = {}) {
  const item = document.createElement("li");
  item.className = "lane";
  if (id) item.dataset.id = id;
  item.classList.toggle("off", Boolean(off));
  item.classList.toggle("selected", id !== undefined && id === selected);
  const name = document.createElement("span");
  name.className = "lane-label";
  name.textContent = label;
  const track = document.createElement("div");
  track.className = "lane-track";
  for (const [from, to, kind] of spans) track.append(bar(from, to, kind));
  item.append(name, track);
  return item;
}

function bar(from, to, kind) {
  const element = document.createElement("span");
  element.className = `span ${kind || ""}`;
  const whole = length() || 1;
  const [start, end] = [clamp(from, 0, whole), clamp(to, 0, whole)];
  element.style.left = `${(start / whole) * 100}%`;
  element.style.width = `max(3px, ${((end - start) / whole) * 100}%)`;
  element.title = `${timeText(from)} – ${timeText(to)}`;
  return element;
}

function drawTimeline() {
  const lanes = plan.regions.map((r) => {
    const [from, to] = span(r);
    return lane(r.label, [[from - EDGE_S, to + EDGE_S, r.source]], { id: r.id, off: !r.enabled });
  });
  $("lanes").replaceChildren(...lanes);
  $("audio-lane").replaceChildren(...plan.audio.map((a) => bar(a.start, a.end, a.mode)));
}

function regionItem(r) {
  const item = document.createElement("li");
  item.dataset.id = r.id;
  item.classList.toggle("selected", r.id === selected);
  const toggle = document.createElement("input");
  toggle.type = "checkbox";
  toggle.checked = r.enabled;
  toggle.id = `region-${r.id}`;
  toggle.dataset.action = "toggle";
  const label = document.createElement("label");
  label.htmlFor = toggle.id;
  label.textContent = r.label;
  const [from, to] = span(r);
  const when = document.createElement("span");
  when.className = "when";
  when.textContent = `${r.source === "manual" ? "drawn" : "detected"}, ${timeText(from)}–${timeText(to)}`;
  const pick = document.createElement("button");
  pick.type = "button";
  pick.dataset.action = "select";
  pick.textContent = r.id === selected ? "Selected" : "Select";
  pick.setAttribute("aria-pressed", String(r.id === selected));
  pick.setAttribute("aria-label", `Select ${r.label} and go to its start`);
  item.append(toggle, label, when, pick);
  return item;
}

function rangeItem(range, index) {
  const item = document.createElement("li");
  const text = document.createElement("span");
  text.textContent = `${range.mode === "bleep" ? "Bleep" : "Mute"} ${timeText(range.start)} – ${timeText(range.end)}`;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.dataset.index = String(index);
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", `Remove ${text.textContent}`);
  item.append(text, remove);
  return item;
}

/** Where the keyboard was in the lists, to put it back after they are drawn again. */
function focusInLists() {
  const focused = document.activeElement;
  const item = focused?.closest("#regions li[data-id]");
  if (item) return `#regions li[data-id="${CSS.escape(item.dataset.id)}"] [data-action="${focused.dataset.action}"]`;
  return focused?.closest("#ranges") ? "#audio-add" : null;
}

/** Everything drawn from the plan: lists, timeline, buttons, and the boxes at this moment. */
function rebuild() {
  const focus = focusInLists();
  $("regions").replaceChildren(...plan.regions.map(regionItem));
  $("no-regions").hidden = plan.regions.length > 0;
  $("ranges").replaceChildren(...plan.audio.map(rangeItem));
  if (focus) document.querySelector(focus)?.focus();
  for (const input of document.querySelectorAll("input[name=effect]")) input.checked = input.value === plan.effect;
  drawTimeline();
  refresh();
  showTime(video.currentTime);
}

/** The buttons and fields that depend on the selection and on what is saved. */
function refresh() {
  const r = region(selected);
  $("follow").disabled = !r;
  $("remove-region").disabled = !r || r.source !== "manual";
  $("region-label").disabled = !r;
  if (document.activeElement !== $("region-label")) $("region-label").value = r ? r.label : "";
  $("version").textContent = String(version);
  $("dirty").hidden = !dirty;
  $("draw").setAttribute("aria-pressed", String(drawing));
  $("draw").textContent = drawing ? "Drawing: drag on the picture" : "Draw a box";
  overlay.classList.toggle("drawing", drawing);
  $("play").textContent = video.paused ? "Play" : "Pause";
}

function select(id, { seek = false } = {}) {
  selected = id;
  const r = region(id);
  if (r && seek && !boxAt(r.keyframes, video.currentTime)) {
    video.pause();
    video.currentTime = r.keyframes[0].t;
  }
  rebuild();
}

// --- following playback --------------------------------------------------------------------

// requestVideoFrameCallback gives each presented frame's own time; elsewhere animation frames.
function onFrame(_now, frame) {
  showTime(frame && Number.isFinite(frame.mediaTime) ? frame.mediaTime : video.currentTime);
  schedule();
}

function schedule() {
  if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(onFrame);
  else requestAnimationFrame(() => onFrame());
}

function togglePlay() {
  if (video.paused || video.ended) video.play();
  else video.pause();
}

function step(direction) {
  video.pause();
  video.currentTime = clamp(video.currentTime + direction / fps, 0, length());
}

// --- drawing and correcting boxes with the pointer -------------------------------------------

function fractionOf(event) {
  const frame = overlay.getBoundingClientRect();
  return [clamp((event.clientX - frame.left) / frame.width, 0, 1),
    clamp((event.clientY - frame.top) / frame.height, 0, 1)];
}

let gesture = null; // {kind: "draw"|"move"|"resize", start, box, corner, element}

function startGesture(event) {
  const [px, py] = fractionOf(event);
  const target = event.target.closest(".box");
  if (drawing) {
    video.pause();
    const element = document.createElement("div");
    element.className = "box sketch";
    overlay.append(element);
    gesture = { kind: "draw", start: [px, py], element };
  } else if (target) {
    select(target.dataset.id);
    const r = region(target.dataset.id);
    const box = r && boxAt(r.keyframes, video.currentTime);
    if (!box || !video.paused) return;
    const corner = event.target.dataset.corner;
    gesture = { kind: corner ? "resize" : "move", start: [px, py], box, corner, id: r.id };
  } else {
    return;
  }
  overlay.setPointerCapture(event.pointerId);
  event.preventDefault();
}

function gestureBox(gesture, event) {
  const [px, py] = fractionOf(event);
  const [sx, sy] = gesture.start;
  if (gesture.kind === "draw") {
    return [Math.min(sx, px), Math.min(sy, py), Math.abs(px - sx), Math.abs(py - sy)];
  }
  const [x, y, w, h] = gesture.box;
  const [dx, dy] = [px - sx, py - sy];
  if (gesture.kind === "move") return [x + dx, y + dy, w, h];
  const left = gesture.corner.includes("w");
  const top = gesture.corner.includes("n");
  const [x2, y2] = [x + w, y + h];
  const [nx, ny] = [left ? Math.min(x + dx, x2 - MIN_SIZE) : x, top ? Math.min(y + dy, y2 - MIN_SIZE) : y];
  const [nx2, ny2] = [left ? x2 : Math.max(x2 + dx, x + MIN_SIZE), top ? y2 : Math.max(y2 + dy, y + MIN_SIZE)];
  return [nx, ny, nx2 - nx, ny2 - ny];
}

function moveGesture(event) {
  if (!gesture) return;
  const box = fit(gestureBox(gesture, event));
  const element = gesture.element || overlay.querySelector(`.box[data-id="${CSS.escape(gesture.id)}"]`);
  if (element) place(element, box);
}

function endGesture(event) {
  if (!gesture) return;
  const done = gesture;
  gesture = null;
  const box = gestureBox(done, event);
  if (done.kind === "draw") {
    done.element.remove();
    drawing = false;
    if (box[2] < MIN_SIZE || box[3] < MIN_SIZE) {
      refresh();
      say("The box was too small: drag across the area to hide.");
      return;
    }
    addManual(box);
    return;
  }
  setKeyframe(region(done.id), video.currentTime, box, fps);
  changed();
  say(`${region(done.id).label} corrected at ${timeText(video.currentTime)}.`);
}

function addManual(box) {
  const id = nextManualId(plan.regions);
  const number = id.slice(1);
  plan.regions.push({ id, source: "manual", enabled: true, label: `Drawn box ${number}`, keyframes: [] });
  setKeyframe(region(id), video.currentTime, box, fps);
  selected = id;
  changed();
  say(`Drawn box ${number} added at ${timeText(video.currentTime)}. Follow it to cover the moments around.`);
}

// --- the keyboard on the picture -----------------------------------------------------------

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

function nudge(event) {
  const r = region(selected);
  const box = r && boxAt(r.keyframes, video.currentTime);
  if (!box || !video.paused) return false;
  const [dx, dy] = ARROWS[event.key].map((v) => v * NUDGE);
  const [x, y, w, h] = box;
  const next = event.shiftKey ? [x, y, w + dx, h + dy] : [x + dx, y + dy, w, h];
  setKeyframe(r, video.currentTime, next, fps);
  changed();
  return true;
}

function onStageKey(event) {
  let handled = true;
  if (event.key === " " || event.key === "k") togglePlay();
  else if (event.key === ",") step(-1);
  else if (event.key === ".") step(1);
  else if (event.key in ARROWS) handled = nudge(event);
  else handled = false;
  if (handled) event.preventDefault();
}

// --- wiring ---------------------------------------------------------------------------------

function addAudio() {
  const start = Number($("audio-start").value);
  const end = Number($("audio-end").value);
  if ($("audio-start").value === "" || $("audio-end").value === "" || !(end > start) || start < 0) {
    fail("A sound range needs a start and a later end, in seconds from the beginning.");
    return;
  }
  fail("");
  plan.audio.push({ start, end: Math.min(end, length() || end), mode: $("audio-mode").value });
  plan.audio.sort((a, b) => a.start - b.start);
  changed();
  say(`${$("audio-mode").value === "bleep" ? "Bleep" : "Mute"} ${timeText(start)} – ${timeText(end)} added.`);
}

function onRegionsClick(event) {
  const item = event.target.closest("li[data-id]");
  if (!item) return;
  if (event.target.dataset.action === "select") select(item.dataset.id, { seek: true });
}

function onRegionsChange(event) {
  if (event.target.dataset.action !== "toggle") return;
  const r = region(event.target.closest("li[data-id]").dataset.id);
  r.enabled = event.target.checked;
  changed();
  say(`${r.label} will be ${r.enabled ? "hidden" : "left visible"}.`);
}

function onLaneClick(event) {
  const item = event.target.closest(".lane[data-id]");
  const track = event.target.closest(".lane-track");
  if (!track) return;
  const frame = track.getBoundingClientRect();
  video.pause();
  video.currentTime = clamp((event.clientX - frame.left) / frame.width, 0, 1) * length();
  if (item) select(item.dataset.id);
}

function wire() {
  $("play").addEventListener("click", togglePlay);
  $("back").addEventListener("click", () => step(-1));
  $("forward").addEventListener("click", () => step(1));
  $("seek").addEventListener("input", () => { video.currentTime = Number($("seek").value); });
  for (const name of ["play", "pause", "seeked", "loadedmetadata", "timeupdate"]) {
    video.addEventListener(name, () => { if (name === "loadedmetadata") shape(); refresh(); showTime(video.currentTime); });
  }
  $("stage").addEventListener("keydown", onStageKey);
  overlay.addEventListener("pointerdown", startGesture);
  overlay.addEventListener("pointermove", moveGesture);
  overlay.addEventListener("pointerup", endGesture);
  overlay.addEventListener("pointercancel", () => { gesture?.element?.remove(); gesture = null; rebuild(); });
  $("timeline").addEventListener("click", onLaneClick);
  $("regions").addEventListener("click", onRegionsClick);
  $("regions").addEventListener("change", onRegionsChange);
  $("draw").addEventListener("click", () => {
    drawing = !drawing;
    if (drawing) video.pause();
    refresh();
    if (drawing) say("Drag across the picture to draw the box to hide.");
  });
  $("remove-region").addEventListener("click", () => {
    plan.regions = plan.regions.filter((r) => r.id !== selected);
    selected = null;
    changed();
  });
  $("region-label").addEventListener("input", () => {
    const r = region(selected);
    if (!r) return;
    r.label = $("region-label").value.trim() || r.id;
    changed();
  });
  for (const input of document.querySelectorAll("input[name=effect]")) {
    input.addEventListener("change", () => { plan.effect = input.value; changed(); });
  }
  $("audio-start-here").addEventListener("click", () => { $("audio-start").value = video.currentTime.toFixed(2); });
  $("audio-end-here").addEventListener("click", () => { $("audio-end").value = video.currentTime.toFixed(2); });
  $("audio-add").addEventListener("click", addAudio);
  $("ranges").addEventListener("click", (event) => {
    if (event.target.dataset.index === undefined) return;
    plan.audio.splice(Number(event.target.dataset.index), 1);
    changed();
  });
  $("detect").addEventListener("click", () => guarded(detect));
  $("follow").addEventListener("click", () => guarded(follow));
  $("save").addEventListener("click", () => guarded(save));
  $("preview").addEventListener("click", () => guarded(preview));
  $("render").addEventListener("click", () => guarded(render));
  $("reload").addEventListener("click", () => guarded(async () => { await load(); say(`Reloaded version ${version}.`); }));
  window.addEventListener("beforeunload", (event) => { if (dirty) event.preventDefault(); });
}

/** On opening: the plan, and any detection or render still running (or the latest redacted copy). */
async function start() {
  wire();
  shape();
  schedule();
  const state = await load();
  const running = (job) => job && (job.state === "queued" || job.state === "running");
  const renders = [...(state.renders || [])].sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
  const latest = renders[renders.length - 1];
  const finished = renders.filter((r) => r.state === "done").pop();
  if (finished) showRedacted(finished);
  say(version ? `Plan version ${version} loaded.` : "No plan yet: detect faces or draw a box.");
  if (running(state.detection)) await guarded(watchDetection);
  if (running(latest)) await guarded(() => watchRender(latest.id));
}

start().catch((error) => fail(`The plan could not be loaded: ${error.message}`));
