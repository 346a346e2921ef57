// The player page: controls, the thumbnail strip as a scrub bar, the real clock time,
// camera and people's bookmarks and notes on a timeline, keyboard shortcuts.
// Page data comes from <script type="application/json" id="player-data">; no inline code (CSP).
// Clock times are in the force's zone (localtime.js), with its abbreviation and UTC offset.

import { localClock, localDate, zoneLabel } from "./localtime.js";

const data = JSON.parse(document.getElementById("player-data").textContent);
const video = document.getElementById("player");
const csrf = document.body.dataset.csrf || "";
const RATES = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];
const recordedStart = Date.parse(data.recordedStart);
let annotations = data.annotations;

const $ = (id) => document.getElementById(id);

function length() {
  return Number.isFinite(video?.duration) && video.duration > 0 ? video.duration : data.duration || 0;
}

function pad(value, width) {
  return String(value).padStart(width, "0");
}

/** Seconds into the recording as m:ss.s (the offset, as the timeline counts). */
function offset(seconds) {
  const tenths = Math.round(seconds * 10);
  return `${Math.floor(tenths / 600)}:${pad(((tenths % 600) / 10).toFixed(1), 4)}`;
}

function momentAt(seconds) {
  return new Date(recordedStart + Math.round(seconds * 10) * 100);
}

/** The camera's clock at `seconds` into the recording, in the force's zone: HH:MM:SS.s. */
function clock(seconds) {
  return localClock(momentAt(seconds), true);
}

/** The clock with its zone: "14:03:22.4 GMT (UTC+00:00)". */
function zonedClock(seconds) {
  return `${clock(seconds)} ${zoneLabel(momentAt(seconds))}`;
}

function clockDate(seconds) {
  return localDate(momentAt(seconds));
}

// --- moving through the recording ----------------------------------------------------------

function seek(seconds) {
  if (!video) return;
  video.currentTime = Math.min(Math.max(seconds, 0), length());
}

function togglePlay() {
  if (video.paused || video.ended) video.play();
  else video.pause();
}

function stepFrame(direction) {
  video.pause();
  seek(video.currentTime + direction / (data.fps || 25));
}

function setRate(rate) {
  video.playbackRate = rate;
  $("speed").value = String(rate);
}

function changeRate(direction) {
  const index = RATES.indexOf(video.playbackRate);
  const next = index < 0 ? RATES.indexOf(1) : index + direction;
  setRate(RATES[Math.min(Math.max(next, 0), RATES.length - 1)]);
}

// --- what the page shows about the current moment ------------------------------------------

function showTime() {
  const now = video.currentTime;
  $("clock").textContent = zonedClock(now);
  $("clock").dateTime = new Date(recordedStart + now * 1000).toISOString();
  $("clock-date").textContent = clockDate(now);
  $("position").textContent = offset(now);
  $("length").textContent = offset(length());
  const noteAt = $("note-at");
  if (noteAt) noteAt.textContent = clock(now);
  const share = length() ? now / length() : 0;
  $("head").style.left = `${share * 100}%`;
  $("scrub").setAttribute("aria-valuenow", now.toFixed(1));
  $("scrub").setAttribute("aria-valuetext", zonedClock(now));
}

function showPlaying() {
  $("play").textContent = video.paused ? "Play" : "Pause";
}

// While playing, follow every frame rather than the 4-a-second timeupdate.
function follow() {
  showTime();
  if (!video.paused) requestAnimationFrame(follow);
}

// --- the thumbnail strip as a scrub bar ----------------------------------------------------

function fractionAt(event) {
  const box = $("scrub").getBoundingClientRect();
  return Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
}

function showPreview(event) {
  const fraction = fractionAt(event);
  const preview = $("preview");
  preview.hidden = false;
  preview.style.left = `${fraction * 100}%`;
  $("preview-time").textContent = clock(fraction * length());
  const strip = data.strip;
  if (!strip) return;
  const index = Math.min(Math.floor(fraction * strip.count), strip.count - 1);
  const tile = $("preview-tile");
  tile.style.width = `${strip.tile_width}px`;
  tile.style.height = `${strip.tile_height}px`;
  tile.style.backgroundPosition = `-${index * strip.tile_width}px 0`;
}

function wireScrub() {
  const scrub = $("scrub");
  if (data.strip) {
    const image = `url("${data.strip.url}")`;
    $("strip").style.backgroundImage = image;
    $("preview-tile").style.backgroundImage = image;
  }
  let dragging = false;
  scrub.addEventListener("pointerdown", (event) => {
    dragging = true;
    scrub.setPointerCapture(event.pointerId);
    seek(fractionAt(event) * length());
  });
  scrub.addEventListener("pointermove", (event) => {
    showPreview(event);
    if (dragging) seek(fractionAt(event) * length());
  });
  const stop = () => { dragging = false; };
  scrub.addEventListener("pointerup", stop);
  scrub.addEventListener("pointercancel", stop);
  scrub.addEventListener("pointerleave", () => { if (!dragging) $("preview").hidden = true; });
}

// --- bookmarks and notes -------------------------------------------------------------------

function allMarks() {
  const camera = (data.cameraBookmarks || []).map((mark) => (
    { kind: "camera", at_s: Number(mark.t), text: mark.label || "Bookmark", author: "camera" }));
  return [...camera, ...annotations].sort((a, b) => a.at_s - b.at_s);
}

const KIND_NAMES = { camera: "Camera bookmark", bookmark: "Bookmark", note: "Note" };

function markTitle(mark) {
  return `${zonedClock(mark.at_s)} · ${KIND_NAMES[mark.kind]}: ${mark.text}` +
    (mark.kind === "camera" ? "" : ` (${mark.author})`);
}

function drawTimeline(marks) {
  const timeline = $("timeline");
  if (!timeline) return;
  const total = length();
  timeline.replaceChildren(...marks.map((mark) => {
    const marker = document.createElement("button");
    marker.type = "button";
    marker.className = `marker ${mark.kind}`;
    marker.title = markTitle(mark);
    marker.setAttribute("aria-label", marker.title);
    marker.dataset.at = String(mark.at_s);
    marker.style.left = `${total ? (mark.at_s / total) * 100 : 0}%`;
    marker.addEventListener("click", () => seek(mark.at_s));
    return marker;
  }));
}

function listEntry(mark) {
  const entry = document.createElement("li");
  entry.className = `mark ${mark.kind}`;
  const when = document.createElement("a");
  when.href = `#t=${mark.at_s}`;
  when.className = "at";
  when.textContent = clock(mark.at_s);
  when.title = `${offset(mark.at_s)} into the recording`;
  when.addEventListener("click", (event) => {
    event.preventDefault();
    seek(mark.at_s);
    video?.focus();
  });
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = KIND_NAMES[mark.kind];
  const text = document.createElement("p");
  text.className = "text";
  text.textContent = mark.text;
  const by = document.createElement("span");
  by.className = "by";
  by.textContent = mark.kind === "camera" ? "from the camera" : mark.author;
  entry.append(when, kind, by, text);
  if (mark.mine) entry.append(removeButton(mark));
  return entry;
}

function removeButton(mark) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "remove";
  button.textContent = "Remove";
  button.setAttribute("aria-label", `Remove your ${mark.kind} at ${clock(mark.at_s)}`);
  button.addEventListener("click", () => remove(mark));
  return button;
}

function drawMarks() {
  const marks = allMarks();
  $("marks").replaceChildren(...marks.map(listEntry));
  $("no-marks").hidden = marks.length > 0;
  drawTimeline(marks);
}

async function send(method, path, body) {
  const response = await fetch(`${data.api}/annotations${path}`, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    const detail = Array.isArray(answer.detail) ? answer.detail.map((d) => d.msg).join("; ") : null;
    throw new Error(answer.error || detail || `the server answered ${response.status}`);
  }
  return response.status === 204 ? null : response.json();
}

function showError(message) {
  const error = $("mark-error");
  if (error) error.textContent = message;
}

async function add(kind, text) {
  showError("");
  try {
    annotations = [...annotations, await send("POST", "", { kind, at_s: video.currentTime, text })];
    drawMarks();
    return true;
  } catch (error) {
    showError(`Not saved: ${error.message}`);
    return false;
  }
}

async function remove(mark) {
  showError("");
  try {
    await send("DELETE", `/${mark.id}`);
    annotations = annotations.filter((kept) => kept.id !== mark.id);
    drawMarks();
  } catch (error) {
    showError(`Not removed: ${error.message}`);
  }
}

function bookmarkNow() {
  const field = $("mark-text");
  const label = field.value.trim() || `Bookmark at ${clock(video.currentTime)}`;
  add("bookmark", label).then((saved) => { if (saved) field.value = ""; });
}

function noteNow() {
  const field = $("mark-text");
  if (!field.value.trim()) {
    video.pause();
    showError("");
    field.focus();
    return;
  }
  add("note", field.value).then((saved) => { if (saved) field.value = ""; });
}

function wireForm() {
  const form = $("mark-form");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (event.submitter?.value === "note") noteNow();
    else bookmarkNow();
  });
  $("mark-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      noteNow();
    }
  });
}

// --- keyboard ------------------------------------------------------------------------------

function typing(target) {
  return target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function toggleHelp() {
  const help = $("shortcuts");
  help.hidden = !help.hidden;
  $("help").setAttribute("aria-expanded", String(!help.hidden));
}

const KEYS = {
  " ": togglePlay,
  k: togglePlay,
  j: () => seek(video.currentTime - 10),
  l: () => seek(video.currentTime + 10),
  ArrowLeft: () => seek(video.currentTime - 5),
  ArrowRight: () => seek(video.currentTime + 5),
  ",": () => stepFrame(-1),
  ".": () => stepFrame(1),
  "[": () => changeRate(-1),
  "]": () => changeRate(1),
  b: () => { if ($("mark-form")) bookmarkNow(); },
  n: () => { if ($("mark-form")) { video.pause(); $("mark-text").focus(); } },
  "?": toggleHelp,
};

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  const action = KEYS[event.key];
  if (!action) return;
  event.preventDefault(); // space would scroll the page or press the focused button
  action();
}

// --- start ---------------------------------------------------------------------------------

function wireControls() {
  $("play").addEventListener("click", togglePlay);
  for (const button of document.querySelectorAll("[data-skip]")) {
    button.addEventListener("click", () => seek(video.currentTime + Number(button.dataset.skip)));
  }
  for (const button of document.querySelectorAll("[data-step]")) {
    button.addEventListener("click", () => stepFrame(Number(button.dataset.step)));
  }
  $("speed").addEventListener("change", () => setRate(Number($("speed").value)));
  $("mute").addEventListener("click", () => {
    video.muted = !video.muted;
    $("mute").setAttribute("aria-pressed", String(video.muted));
    $("mute").textContent = video.muted ? "Unmute" : "Mute";
  });
  $("fullscreen").addEventListener("click", () => $("screen").requestFullscreen?.());
  $("help").addEventListener("click", toggleHelp);
  video.addEventListener("click", togglePlay);
}

function wireVideo() {
  for (const name of ["timeupdate", "seeking", "seeked", "loadedmetadata", "durationchange"]) {
    video.addEventListener(name, showTime);
  }
  video.addEventListener("loadedmetadata", drawMarks); // the real length places the markers
  video.addEventListener("play", () => { showPlaying(); requestAnimationFrame(follow); });
  video.addEventListener("pause", showPlaying);
  video.addEventListener("ended", showPlaying);
  video.addEventListener("ratechange", () => { $("speed").value = String(video.playbackRate); });
}

function startAtHash() {
  const wanted = /^#t=([\d.]+)$/.exec(window.location.hash);
  if (wanted) seek(Number(wanted[1]));
}

drawMarks();
if (video) {
  wireControls();
  wireVideo();
  wireScrub();
  wireForm();
  document.addEventListener("keydown", onKey);
  showTime();
  startAtHash();
}
