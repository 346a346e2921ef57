/**
 * The multi-camera view: one shared clock, in real time (shown in the force's zone), drives every recording.
 *
 * Each video shows the moment (shared time − its recorded start). Play, pause, the
 * timeline, the jump buttons and the speed act on the clock; every animation frame
 * places each video on it. A video that drifts is brought back: small drift by playing
 * it a little faster or slower, large drift (or any seek) by seeking it, with the clock
 * held until every video in range can play on, so that one slow video never falls behind.
 */

import { localClock, localTime } from './localtime.js';

const NUDGE_FROM_S = 0.05; // below this, leave a video alone
const SEEK_FROM_S = 0.25; // above this, seek instead of nudging
const HAVE_FUTURE_DATA = 3;

/** A clock that runs at `rate` from `at` (epoch seconds) since `anchor` (performance.now ms). */
class SharedClock {
  constructor(first, last) {
    Object.assign(this, { first, last, at: first, anchor: performance.now(), rate: 1 });
    this.playing = false; // what the person asked for
    this.running = false; // whether time moves now (not while a video catches up)
  }

  now() {
    if (!this.running) return this.at;
    return Math.min(this.last, this.at + ((performance.now() - this.anchor) / 1000) * this.rate);
  }

  seek(at) {
    this.at = Math.min(this.last, Math.max(this.first, at));
    this.anchor = performance.now();
  }

  setRunning(running) {
    if (running === this.running) return;
    this.seek(this.now());
    this.running = running;
  }

  setRate(rate) {
    this.seek(this.now());
    this.rate = rate;
  }
}

function start(view) {
  const tiles = [...view.querySelectorAll('.watch-tile')].map(tileOf);
  const clock = new SharedClock(Math.min(...tiles.map((t) => t.start)), Math.max(...tiles.map((t) => t.end)));
  const controls = controlsOf(view, clock);
  setUpSolo(tiles);
  wireControls(view, tiles, clock, controls);
  const frame = () => {
    tick(view, tiles, clock, controls);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

function tileOf(figure) {
  const start = Date.parse(figure.dataset.start) / 1000;
  const end = Date.parse(figure.dataset.end) / 1000;
  return {
    figure,
    video: figure.querySelector('video'),
    phaseText: figure.querySelector('.watch-phase'),
    solo: figure.querySelector('.watch-solo'),
    start,
    end,
    mustSeek: true,
  };
}

function controlsOf(view, clock) {
  const controls = {
    play: view.querySelector('#watch-play'),
    clock: view.querySelector('#watch-clock'),
    speed: view.querySelector('#watch-speed'),
    timeline: view.querySelector('#watch-timeline'),
    dragging: false,
  };
  controls.timeline.max = (clock.last - clock.first).toFixed(2);
  view.querySelector('#watch-first').textContent = zonedAt(clock.first);
  view.querySelector('#watch-last').textContent = zonedAt(clock.last);
  return controls;
}

function wireControls(view, tiles, clock, controls) {
  const seekTo = (at) => {
    clock.seek(at);
    tiles.forEach((tile) => (tile.mustSeek = true));
  };
  controls.play.addEventListener('click', () => {
    if (!clock.playing && clock.now() >= clock.last) seekTo(clock.first);
    clock.playing = !clock.playing;
    if (!clock.playing) clock.setRunning(false);
  });
  controls.speed.addEventListener('change', () => {
    clock.setRate(Number(controls.speed.value));
    tiles.forEach((tile) => tile.video && (tile.video.playbackRate = clock.rate));
  });
  controls.timeline.addEventListener('pointerdown', () => (controls.dragging = true));
  controls.timeline.addEventListener('change', () => (controls.dragging = false));
  controls.timeline.addEventListener('input', () => seekTo(clock.first + Number(controls.timeline.value)));
  view.querySelectorAll('[data-jump]').forEach((button) =>
    button.addEventListener('click', () => seekTo(clock.now() + Number(button.dataset.jump))),
  );
  document.addEventListener('keydown', (event) => {
    if (event.key === ' ' && event.target === document.body) {
      event.preventDefault();
      controls.play.click();
    }
  });
}

/** One frame: stop at the end, place every video, hold the clock while any catches up. */
function tick(view, tiles, clock, controls) {
  if (clock.playing && clock.now() >= clock.last) {
    clock.playing = false;
    clock.setRunning(false);
  }
  const at = clock.now();
  const waiting = tiles.map((tile) => place(tile, at, clock)).some(Boolean);
  clock.setRunning(clock.playing && !waiting);
  view.dataset.clock = at.toFixed(3);
  view.dataset.running = String(clock.running);
  controls.clock.textContent = clockAt(at);
  controls.play.textContent = clock.playing ? 'Pause' : 'Play';
  controls.play.setAttribute('aria-pressed', String(clock.playing));
  if (!controls.dragging) controls.timeline.value = (at - clock.first).toFixed(2);
}

/** Put one tile at shared time `at`; true while its video is not yet where it must be. */
function place(tile, at, clock) {
  const video = tile.video;
  const local = at - tile.start;
  // The copy may be a frame or two shorter than the recorded times say: it ends where it ends.
  const length = video && Number.isFinite(video.duration) ? video.duration : tile.end - tile.start;
  const phase = local < 0 ? 'before' : local >= length ? 'after' : 'live';
  showPhase(tile, phase);
  if (!video) return false;
  if (phase !== 'live') {
    if (!video.paused) video.pause();
    tile.mustSeek = true; // enter its range from the right frame
    return false;
  }
  if (video.seeking) return true;
  const drift = video.currentTime - local;
  if (tile.mustSeek || Math.abs(drift) > SEEK_FROM_S || (!clock.running && Math.abs(drift) > NUDGE_FROM_S)) {
    tile.mustSeek = false;
    video.currentTime = local;
    return true;
  }
  const nearEnd = video.ended || local > length - 0.2; // no "future data" exists at the very end
  if (clock.playing && video.readyState < HAVE_FUTURE_DATA && !nearEnd) return true;
  follow(video, clock, drift);
  return false;
}

/** Play or pause with the clock; close small drift by playing slightly slower or faster. */
function follow(video, clock, drift) {
  if (!clock.running) {
    if (!video.paused) video.pause();
    return;
  }
  const nudge = Math.abs(drift) > NUDGE_FROM_S ? Math.max(-0.5, Math.min(0.5, -drift)) : 0;
  const rate = clock.rate * (1 + nudge);
  if (Math.abs(video.playbackRate - rate) > 0.01) video.playbackRate = rate;
  if (video.paused && !video.ended) play(video);
}

function play(video) {
  video.play().catch(() => {
    // Sound may be refused before the person has touched the page: play silently instead.
    video.muted = true;
    video.play().catch(() => {});
  });
}

function showPhase(tile, phase) {
  if (tile.figure.dataset.phase === phase) return;
  tile.figure.dataset.phase = phase;
  if (!tile.video) return;
  tile.phaseText.textContent =
    phase === 'before' ? `Not yet recording: starts ${zonedAt(tile.start)}` : phase === 'after' ? `Ended ${zonedAt(tile.end)}` : '';
}

/** Sound from one camera at a time (the first, until another is chosen); the others are muted. */
function setUpSolo(tiles) {
  const audible = tiles.filter((tile) => tile.solo);
  const choose = (chosen) =>
    audible.forEach((tile) => {
      tile.video.muted = tile !== chosen;
      tile.solo.setAttribute('aria-pressed', String(tile === chosen));
      tile.figure.classList.toggle('solo', tile === chosen);
    });
  audible.forEach((tile) =>
    tile.solo.addEventListener('click', () => choose(tile.solo.getAttribute('aria-pressed') === 'true' ? null : tile)),
  );
  choose(audible[0] ?? null);
}

/** HH:MM:SS of an epoch-seconds time, in the force's zone. */
function clockAt(seconds) {
  return localClock(new Date(seconds * 1000));
}

/** The same with the zone: "14:03:22 GMT (UTC+00:00)". */
function zonedAt(seconds) {
  return localTime(new Date(seconds * 1000), 'time');
}

const root = document.getElementById('watch');
if (root) start(root);
