// The current time as an ISO 8601 string, for audit events. Formatting a Date costs
// about as much as the rest of an audit event; under load many events share the same
// millisecond, so the last string is kept and reused within it.
let lastMs = -1;
let lastText = '';

export function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastText = new Date(ms).toISOString();
  }
  return lastText;
}
