// Dates, times and labels as the console shows them. Times are Unix seconds
// in the API and the browser's local time on screen.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relativeFmt = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

/** "Mar 3, 2027, 10:00 AM" for Unix seconds. */
export function formatDate(unix) {
  return dateTime.format(new Date(unix * 1000));
}

/** An ISO 8601 string for a <time datetime> attribute. */
export function isoDate(unix) {
  return new Date(unix * 1000).toISOString();
}

// The units of relative times, largest first, in seconds.
const UNITS = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
];

/** "in 12 days", "3 hours ago": the distance from now to Unix seconds. */
export function relative(unix, nowMs = Date.now()) {
  const diff = unix - nowMs / 1000;
  const abs = Math.abs(diff);
  for (const [unit, secs] of UNITS) {
    if (abs >= secs) return relativeFmt.format(Math.round(diff / secs), unit);
  }
  return diff >= 0 ? 'in less than a minute' : 'less than a minute ago';
}

/** How an expiration reads: "in 12 days" or "expired 3 days ago". */
export function expiresIn(unix, expired, nowMs = Date.now()) {
  if (expired || unix * 1000 <= nowMs) return 'expired ' + relative(unix, nowMs);
  return relative(unix, nowMs);
}

const pad = (n) => String(n).padStart(2, '0');

/**
 * The value of a datetime-local input for Unix seconds, in local time:
 * "2027-03-03T10:00", with ":SS" only when the seconds are not zero.
 */
export function toLocalInput(unix) {
  const d = new Date(unix * 1000);
  let s = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.getSeconds() !== 0) s += ':' + pad(d.getSeconds());
  return s;
}

/** Unix seconds of a datetime-local value (local time), or null if empty or invalid. */
export function fromLocalInput(value) {
  if (!value) return null;
  const ms = new Date(value).getTime(); // a date-time without offset is local time
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** An RFC 3339 time with nanoseconds as a Date (JavaScript keeps milliseconds). */
export function parseRFC3339(s) {
  return new Date(s.replace(/(\.\d{3})\d+/, '$1'));
}

/** "ACTIVE" -> "Active". */
export function statusLabel(status) {
  return status.charAt(0) + status.slice(1).toLowerCase();
}

// Audit event types as a person reads them.
const EVENT_LABELS = {
  TokenIssued: 'Issued',
  TokenRenamed: 'Renamed',
  TokenNoteChanged: 'Note changed',
  TokenExpirationChanged: 'Expiration changed',
  TokenSuspended: 'Suspended',
  TokenReactivated: 'Reactivated',
  TokenCanceled: 'Canceled',
  ModelAssigned: 'Model assigned',
  ModelUnassigned: 'Model unassigned',
  TokenUpdated: 'Updated',
  TokenDeleted: 'Deleted',
};

export function eventLabel(type) {
  return EVENT_LABELS[type] || type;
}

// Field names of the API as labels.
const FIELD_LABELS = {
  name: 'Name',
  note: 'Note',
  expirationDate: 'Expiration',
  status: 'Status',
  modelId: 'Model',
};

export function fieldLabel(field) {
  return FIELD_LABELS[field] || field;
}
