/**
 * The item page's "seen by other cameras" list: recordings of the same incident by other
 * cameras, each with a checkbox; "Watch together" opens them in sync with this one.
 */

import { localClock, localTime } from './localtime.js';

const MAX_OTHERS = 3; // the multi-camera view shows four recordings at most

const section = document.getElementById('incident');
if (section) load(section);

async function load(box) {
  const status = box.querySelector('#incident-status');
  try {
    const response = await fetch(`/api/v1/items/${encodeURIComponent(box.dataset.itemId)}/incident`, {
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
    });
    if (!response.ok) throw new Error(`status ${response.status}`);
    show(box, await response.json());
  } catch (error) {
    status.textContent = 'Other cameras could not be looked up just now.';
    status.classList.add('error');
  }
}

function show(box, answer) {
  const status = box.querySelector('#incident-status');
  if (answer.items.length === 0) {
    status.textContent = answer.reason
      ? `No other cameras proposed: ${answer.reason}.`
      : 'No other camera you may see was there at the time.';
    return;
  }
  status.textContent = `${answer.items.length} other camera recording${answer.items.length === 1 ? '' : 's'} of this incident:`;
  const list = box.querySelector('#incident-items');
  list.replaceChildren(...answer.items.map((item, index) => row(item, index < MAX_OTHERS)));
  const form = box.querySelector('#incident-form');
  form.hidden = false;
  form.addEventListener('change', () => limit(form));
  limit(form);
}

function row(item, checked) {
  const box = Object.assign(document.createElement('input'), { type: 'checkbox', name: 'items', value: item.id, checked });
  const who = Object.assign(document.createElement('strong'), { textContent: item.camera || 'unknown camera' });
  const officer = document.createTextNode(` · ${item.officer || 'unknown officer'}`);
  const when = Object.assign(document.createElement('span'), { textContent: `${localClock(new Date(item.recorded_start))}–${localTime(item.recorded_end, 'time')}` });
  const near = Object.assign(document.createElement('span'), {
    className: 'near',
    textContent: item.distance_m === null ? 'through another camera' : `within ${Math.round(item.distance_m)} m`,
  });
  const open = Object.assign(document.createElement('a'), { href: `/items/${item.id}`, textContent: 'Open' });
  const label = document.createElement('label');
  label.append(box, who, officer, when, near, open);
  const li = document.createElement('li');
  li.append(label);
  return li;
}

/** At most three others can join; "Watch together" needs at least one. */
function limit(form) {
  const boxes = [...form.querySelectorAll('input[type=checkbox]')];
  const chosen = boxes.filter((b) => b.checked).length;
  boxes.forEach((b) => (b.disabled = !b.checked && chosen >= MAX_OTHERS));
  form.querySelector('#watch-together').disabled = chosen === 0;
}
