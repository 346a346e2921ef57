// The force's local time, as the server's pages show it: the zone comes from <body data-time-zone>
// (the WITNESSBOX_TIME_ZONE setting), so every script formats times like the templates'
// `local` filter: "06 Dec 2026 14:03:22 GMT (UTC+00:00)", "14:03:22 BST (UTC+01:00)".

export const zone = document.body.dataset.timeZone || 'Europe/London';

const parts = (options) => new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', ...options });
const DATE = parts({ day: '2-digit', month: 'short', year: 'numeric' });
const TIME = parts({ hour: '2-digit', minute: '2-digit', second: '2-digit' });
const MINUTE = parts({ hour: '2-digit', minute: '2-digit' });
const NAME = parts({ timeZoneName: 'short' });
const OFFSET = parts({ timeZoneName: 'longOffset' });

function zonePart(format, at) {
  return format.formatToParts(at).find((part) => part.type === 'timeZoneName')?.value ?? '';
}

/** "UTC+01:00" for a moment an hour ahead of UTC in the zone. */
export function offset(at) {
  const given = zonePart(OFFSET, at).replace(/^GMT/, '');
  return `UTC${given || '+00:00'}`;
}

/** "BST (UTC+01:00)": the zone's abbreviation and offset at `at`. */
export function zoneLabel(at) {
  return `${zonePart(NAME, at)} (${offset(at)})`;
}

/** "06 Dec 2026" in the zone. */
export function localDate(at) {
  return DATE.format(at).replace(/ Sept /, ' Sep ');
}

/** "14:03:22" in the zone; with `tenths`, "14:03:22.4". */
export function localClock(at, tenths = false) {
  const text = TIME.format(at);
  return tenths ? `${text}.${Math.floor(new Date(at).getUTCMilliseconds() / 100)}` : text;
}

/** A time as pages show it, in one of the styles of the templates' filter: full, minute, time, date. */
export function localTime(value, style = 'full') {
  const at = value instanceof Date ? value : new Date(value);
  if (style === 'date') return localDate(at);
  const clockText = style === 'minute' ? MINUTE.format(at) : localClock(at);
  const day = style === 'time' ? '' : `${localDate(at)} `;
  return `${day}${clockText} ${zoneLabel(at)}`;
}

function offsetMinutes(at) {
  const [, sign, hours, minutes] = offset(at).match(/UTC([+-])(\d\d):(\d\d)/) ?? [null, '+', '0', '0'];
  return (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes));
}

/** A datetime-local field's value (a wall-clock time in the force's zone) as UTC ISO 8601 with Z. */
export function utcFromLocal(typed) {
  const [date, time] = typed.split('T');
  const [year, month, day] = date.split('-').map(Number);
  const [hours, minutes, seconds = 0] = time.split(':').map(Number);
  const wall = Date.UTC(year, month - 1, day, hours, minutes, seconds);
  const first = wall - offsetMinutes(new Date(wall)) * 60000;
  const at = wall - offsetMinutes(new Date(first)) * 60000; // near a clock change, the offset then
  return new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
}
