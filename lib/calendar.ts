const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** Days in `month` (1-12) of `year` in the proleptic Gregorian calendar (31 outside 1-12). */
export function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 31);
}

/**
 * Orders two instants (negative, zero, positive). Versions are recorded in `toISOString` form,
 * which sorts as text in time order: two such strings are compared as they are, without parsing
 * (this runs for every field of every job); anything else is parsed.
 */
export function compareInstants(a: string, b: string): number {
  if (isIsoInstant(a) && isIsoInstant(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Date.parse(a) - Date.parse(b);
}

// The shape `toISOString` writes (`2026-11-26T10:00:00.000Z`), checked by length and separators:
// the versions come from our own writes, and this is cheaper than the regular expression.
function isIsoInstant(text: string): boolean {
  return (
    text.length === 24 &&
    text.charCodeAt(23) === 90 && // Z
    text.charCodeAt(10) === 84 && // T
    text.charCodeAt(19) === 46 // .
  );
}

/** The instant as `toISOString` writes it (UTC, milliseconds), reusing `text` when it already is. */
export function canonicalInstant(text: string): string {
  // Checked field by field rather than parsed and formatted again: this runs for every job.
  return isCanonicalInstant(text) ? text : new Date(Date.parse(text)).toISOString();
}

// `Date.prototype.toISOString`'s own format (years 0000-9999), which the versions record.
const CANONICAL_INSTANT = /^\d{4}-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

/**
 * Whether `text` is exactly what `toISOString` writes for the instant it names (years 0000-9999):
 * the shape, and a month, day, hour, minute and second that exist. `Date.parse` rolls a day the
 * month lacks over into the next month (the 31st of February is in March): such a text is not
 * canonical and is written out as the instant it parses to.
 */
function isCanonicalInstant(text: string): boolean {
  const parts = CANONICAL_INSTANT.exec(text);
  if (parts === null) return false;
  const month = Number(parts[1]);
  const day = Number(parts[2]);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(Number(text.slice(0, 4)), month);
}
