// Upload handed-in footage over tus 1.0, resumably: hash in the browser, then send in chunks.
//
// The SHA-256 is computed here, slice by slice, before any byte leaves, exactly as a dock
// does at the camera: the server refuses the upload unless what arrived matches it. A lost
// connection or an error is retried after a pause, asking the server (HEAD) how much it
// holds; the upload's address is remembered per file, so choosing the same file again
// after closing the page carries on where it stopped.

import { utcFromLocal } from './localtime.js';
import { Sha256 } from './sha256.js';

const ENDPOINT = '/api/v1/uploads/';
const TUS = { 'Tus-Resumable': '1.0.0' };
const HASH_SLICE = 4 * 1024 * 1024;
const MOST_RETRIES = 12;
const RETRYABLE = new Set([0, 408, 409, 423, 429, 500, 502, 503, 504, 507]);  // 507: the server's disk is full for now
const POLL_MS = 2000;
const MOST_POLLS = 600;

const form = document.getElementById('upload-form');
const rows = document.getElementById('uploads');
const csrf = document.body.dataset.csrf;
const chunkSize = Number(form.dataset.chunkSize);
const totals = { size: 0, done: new Map() };

class UploadError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
    this.retryable = RETRYABLE.has(status);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function megabytes(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// ---- one row per file ---------------------------------------------------------------------

class Row {
  constructor(file) {
    this.file = file;
    this.li = document.getElementById('upload-row').content.firstElementChild.cloneNode(true);
    this.li.querySelector('.name').textContent = file.name;
    this.li.querySelector('.size').textContent = megabytes(file.size);
    this.status = this.li.querySelector('.status');
    rows.append(this.li);
  }

  state(name, words) {
    this.li.dataset.state = name;
    this.status.textContent = words;
  }

  progress(kind, done) {
    this.li.querySelector(kind === 'hashing' ? 'progress.hashing' : 'progress.sending').value =
      this.file.size ? done / this.file.size : 1;
    totals.done.set(`${kind}:${this.li.dataset.key}`, done);
    showOverall();
  }

  link(item) {
    const a = document.createElement('a');
    a.href = `/items/${encodeURIComponent(item.id)}`;
    a.textContent = 'Open the recording';
    this.status.append(' ', a);
  }
}

function showOverall() {
  const work = 2 * totals.size; // each byte is hashed, then sent
  const done = [...totals.done.values()].reduce((sum, n) => sum + n, 0);
  document.getElementById('overall').value = work ? done / work : 0;
  document.getElementById('overall-words').textContent = `${Math.round((100 * done) / (work || 1))} %`;
}

// ---- hashing --------------------------------------------------------------------------------

async function hashFile(file, row) {
  const hash = new Sha256();
  for (let at = 0; at < file.size; at += HASH_SLICE) {
    // Reading each slice awaits, so the page stays responsive between slices.
    const slice = await file.slice(at, at + HASH_SLICE).arrayBuffer();
    hash.update(new Uint8Array(slice));
    row.progress('hashing', Math.min(at + HASH_SLICE, file.size));
  }
  row.progress('hashing', file.size);
  return hash.hex();
}

// ---- tus ------------------------------------------------------------------------------------

async function request(url, options) {
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin', ...options });
  } catch {
    throw new UploadError('the connection was lost');
  }
  if (!response.ok) {
    let reason = `the server answered ${response.status}`;
    try {
      reason = (await response.json()).error || reason;
    } catch { /* not JSON: keep the status */ }
    throw new UploadError(reason, response.status);
  }
  return response;
}

async function create(file, declaration) {
  const metadata = Object.entries(declaration).map(([key, value]) => `${key} ${base64(value)}`).join(',');
  const response = await request(ENDPOINT, {
    method: 'POST',
    headers: { ...TUS, 'Upload-Length': String(file.size), 'Upload-Metadata': metadata, 'X-CSRF-Token': csrf },
  });
  return new URL(response.headers.get('Location'), window.location.href).pathname;
}

async function held(url) {
  const response = await request(url, { method: 'HEAD', headers: TUS, cache: 'no-store' });
  return { offset: Number(response.headers.get('Upload-Offset')), item: response.headers.get('Witnessbox-Item') };
}

async function patch(url, file, offset) {
  const body = await file.slice(offset, offset + chunkSize).arrayBuffer();
  const response = await request(url, {
    method: 'PATCH',
    headers: {
      ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset), 'X-CSRF-Token': csrf,
    },
    body,
  });
  return { offset: Number(response.headers.get('Upload-Offset')), item: response.headers.get('Witnessbox-Item') };
}

// Send from wherever the server stands; after a failure, wait longer each time and ask again.
async function send(url, file, row) {
  let position = null;
  let failures = 0;
  while (position === null || position.offset < file.size) {
    try {
      position = position === null ? await held(url) : await patch(url, file, position.offset);
      row.progress('sending', position.offset);
      if (failures > 0) row.state('uploading', `Resumed at ${megabytes(position.offset)} after a lost connection`);
      failures = 0;
    } catch (error) {
      if (!error.retryable || ++failures > MOST_RETRIES) throw error;
      const wait = Math.min(500 * 2 ** (failures - 1), 30000);
      row.li.classList.add('resumed');
      row.state('retrying', `${error.message}; trying again in ${Math.ceil(wait / 1000)} s`);
      await sleep(wait);
      position = null;
    }
  }
  return position.item;
}

// ---- the whole life of one file -------------------------------------------------------------

function rememberKey(file, sha256) {
  return `witnessbox.upload:${file.name}:${file.size}:${file.lastModified}:${sha256}`;
}

function startedAt(file) {
  const typed = document.getElementById('started-at').value;
  if (!typed) return new Date(file.lastModified).toISOString().replace(/\.\d+Z$/, 'Z');
  return utcFromLocal(typed); // typed in the force's local time, sent in UTC
}

function declaration(file, sha256) {
  const source = form.querySelector('input[name=source]:checked');
  return {
    filename: file.name,
    sha256,
    camera: source.dataset.label,
    started_at: startedAt(file),
    source: source.value,
    description: document.getElementById('description').value.trim(),
  };
}

async function addressFor(file, sha256, row) {
  const key = rememberKey(file, sha256);
  const earlier = localStorage.getItem(key);
  if (earlier) {
    try {
      const { offset } = await held(earlier);
      row.state('uploading', `Carrying on an earlier upload from ${megabytes(offset)}`);
      row.li.classList.add('resumed');
      return earlier;
    } catch (error) {
      if (error.retryable) throw error;
      localStorage.removeItem(key); // expired or refused: start again
    }
  }
  const url = await create(file, declaration(file, sha256));
  localStorage.setItem(key, url);
  return url;
}

async function settle(sha256, itemId, row) {
  row.state('processing', 'Received and verified; preparing it for playing');
  for (let poll = 0; poll < MOST_POLLS; poll++) {
    const response = await fetch(`/api/v1/items?sha256=${sha256}`, { credentials: 'same-origin' });
    const [item] = response.ok ? await response.json() : [];
    if (item && item.state === 'ready') {
      row.state('ready', 'Ready.');
      row.link(item);
      return;
    }
    if (item && item.state === 'quarantined') {
      row.state('failed', `Held, but it could not be processed: ${item.reason}`);
      return;
    }
    if (!item && itemId && poll > 2) {
      row.state('ready', `These exact bytes are already held as item ${itemId}; its owner can share it with you.`);
      return;
    }
    await sleep(POLL_MS);
  }
  row.state('processing', 'Still being prepared; it will appear among your recordings.');
}

async function uploadOne(file, row) {
  const maxBytes = Number(form.dataset.maxBytes);
  if (file.size === 0 || file.size > maxBytes) {
    row.state('failed', file.size ? `Larger than the ${megabytes(maxBytes)} allowed` : 'The file is empty');
    return;
  }
  row.state('hashing', 'Computing its SHA-256');
  const sha256 = await hashFile(file, row);
  row.li.dataset.sha256 = sha256;
  try {
    const url = await addressFor(file, sha256, row);
    if (!row.li.classList.contains('resumed')) row.state('uploading', 'Sending');
    const itemId = await send(url, file, row);
    localStorage.removeItem(rememberKey(file, sha256));
    await settle(sha256, itemId, row);
  } catch (error) {
    if (error.retryable) {
      row.state('failed', `Stopped: ${error.message}. Choose the same file again later to carry on.`);
    } else {
      localStorage.removeItem(rememberKey(file, sha256));
      row.state('failed', `Not uploaded: ${error.message}`);
    }
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const files = [...document.getElementById('files').files];
  const button = document.getElementById('start');
  button.disabled = true;
  rows.replaceChildren();
  totals.size = files.reduce((sum, file) => sum + file.size, 0);
  totals.done.clear();
  document.getElementById('progress-all').hidden = false;
  const queue = files.map((file, index) => {
    const row = new Row(file);
    row.li.dataset.key = String(index);
    return row;
  });
  for (const row of queue) await uploadOne(row.file, row);
  button.disabled = false;
});
