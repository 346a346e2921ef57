// Live updates on every signed-in page: new recordings, finished proxies, unusable files and shares,
// without reloading.
//
// Each event is also dispatched on `document` as a cancelable 'witnessbox:live' CustomEvent
// ({kind, item}); a page that handles one itself calls preventDefault() and the generic
// fallbacks here (reloading the player, offering to show new rows) stand aside.

import { localTime } from './localtime.js';

const MOST_NOTICES = 4;
const WORDS = {
  'item-created': (item) => [`New recording from ${source(item)}`, 'Show'],
  'item-ready': (item) => [`Proxy ready: ${source(item)}, ${when(item)}`, 'Play'],
  'item-shared': (item) => [`Shared with you by ${item.by}: ${item.filename}`, 'Open'],
  'item-quarantined': (item) => [`Could not be processed: ${source(item)}, ${when(item)}`, 'See why'],
};

function source(item) {
  return item.camera || item.officer || item.filename;
}

function when(item) {
  return localTime(item.recorded_start, 'minute');
}

function notify(kind, item) {
  const box = document.getElementById('live');
  if (!box) return;
  const [text, action] = WORDS[kind](item);
  const notice = document.createElement('div');
  notice.className = `live-notice ${kind}`;
  notice.dataset.itemId = item.id;
  const words = document.createElement('span');
  words.textContent = `${text} — `;
  const link = document.createElement('a');
  link.href = item.url;
  link.textContent = action;
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'dismiss';
  close.setAttribute('aria-label', 'Dismiss');
  close.textContent = '×';
  close.addEventListener('click', () => notice.remove());
  notice.append(words, link, close);
  box.prepend(notice);
  while (box.querySelectorAll('.live-notice').length > MOST_NOTICES) box.lastElementChild.remove();
}

function rowOf(itemId) {
  const table = document.querySelector('table.items');
  if (!table) return null;
  return table.querySelector(`tr[data-item-id="${CSS.escape(itemId)}"]`)
    || table.querySelector(`a[href="/items/${CSS.escape(itemId)}"]`)?.closest('tr') || null;
}

// The library lists rows its own way; refresh what is generic (the state) and offer the rest.
function onLibrary(kind, item) {
  const row = rowOf(item.id);
  const state = row?.querySelector('.state');
  if (state) {
    state.textContent = item.state;
    state.className = `state ${item.state}`;
  }
  if (!row && kind !== 'item-ready') offerNewRows();
}

function offerNewRows() {
  const box = document.getElementById('live');
  let offer = box?.querySelector('.live-offer');
  if (!box) return;
  if (!offer) {
    offer = document.createElement('button');
    offer.type = 'button';
    offer.className = 'live-offer';
    offer.dataset.count = '0';
    offer.addEventListener('click', () => window.location.reload());
    box.append(offer);
  }
  const count = Number(offer.dataset.count) + 1;
  offer.dataset.count = String(count);
  offer.textContent = count === 1 ? 'Show the new recording' : `Show ${count} new recordings`;
}

// On the page of an item whose proxy was not ready, load it now.
function onItemPage(item) {
  const player = document.getElementById('player');
  if (!player) {
    window.location.reload();
  } else if (player.error || player.readyState === 0) {
    player.load();
  }
}

function pageItemId() {
  const match = window.location.pathname.match(/^\/items\/([^/]+)$/);
  return match ? decodeURIComponent(match[1]) : null;
}

function receive(kind, item) {
  const unhandled = document.dispatchEvent(
    new CustomEvent('witnessbox:live', { detail: { kind, item }, cancelable: true }));
  notify(kind, item);
  if (!unhandled) return;
  if (window.location.pathname === '/') onLibrary(kind, item);
  if (kind === 'item-ready' && pageItemId() === item.id) onItemPage(item);
}

function listen() {
  if (!('EventSource' in window)) return;
  // The server ends each stream after a few minutes; EventSource reconnects with Last-Event-ID.
  const events = new EventSource('/api/v1/events');
  for (const kind of Object.keys(WORDS)) {
    events.addEventListener(kind, (message) => receive(kind, JSON.parse(message.data)));
  }
  window.addEventListener('pagehide', () => events.close());
}

listen();
