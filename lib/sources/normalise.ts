import { type CountryCode, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { daysInMonth } from '../calendar.js';

/*
 * Pure normalisers shared by every mapper. Each returns `undefined` for a value that cannot be
 * normalised, so the caller leaves that field out (and reports its name) while the rest goes.
 *
 * libphonenumber-js is imported with its `min` metadata: formatting to E.164 needs only the
 * country calling codes, national prefixes and possible lengths that `min` carries. Measured
 * with esbuild (minified): min adds ~121 KB to a bundle, max ~194 KB; the extra 73 KB of `max`
 * buys full per-region number patterns, which ClearTalk does not need (it stores a string) and
 * which cost a third of the 400 KB per-function budget. Validation is therefore by length and
 * country code, not by carrier ranges.
 */

// Deliberately loose (the RFC grammar is not worth it here): one @, no spaces, a dot in the domain.
const EMAIL_SHAPE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const MAX_EMAIL_LENGTH = 254;

/** Trims and lower-cases an email; `undefined` when it is not a string shaped like `local@domain.tld`. */
export function normaliseEmail(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const email = raw.trim().toLowerCase();
  if (email.length === 0 || email.length > MAX_EMAIL_LENGTH || !EMAIL_SHAPE.test(email)) return undefined;
  return email;
}

/**
 * Formats a phone number as E.164. A number without a country code (`(213) 373-4253`) is read in
 * `defaultRegion` (ISO 3166 alpha-2, e.g. `US`); `+`/`00`-prefixed numbers keep their own country.
 * `undefined` for anything that is not a possible number of its country.
 */
export function normalisePhone(raw: unknown, defaultRegion: string): string | undefined {
  let text: string;
  if (typeof raw === 'string') text = raw.trim();
  else if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0) text = `+${raw}`;
  else return undefined;
  if (text.length === 0 || text.length > 40) return undefined;
  const region = defaultRegion.toUpperCase();
  const defaultCountry: CountryCode | undefined = isSupportedCountry(region) ? region : undefined;
  // International prefix 00 is common in European data; libphonenumber only knows it per region.
  const candidate = text.startsWith('00') ? `+${text.slice(2)}` : text;
  const parsed = defaultCountry
    ? parsePhoneNumberFromString(candidate, { defaultCountry })
    : parsePhoneNumberFromString(candidate);
  if (!parsed?.isValid()) return undefined;
  return parsed.number;
}

const DATE_PREFIX = /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])/;

/**
 * Returns the calendar date `YYYY-MM-DD` of a date or ISO timestamp AS WRITTEN (a birthday
 * `1990-05-01T00:00:00-05:00` stays the 1st of May: converting it to UTC would shift the day).
 * `undefined` for other formats and for impossible dates such as `2026-02-30`.
 */
export function normaliseDate(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  const match = DATE_PREFIX.exec(text);
  if (!match) return undefined;
  if (text.length > 10 && toUtcInstant(text.replace(' ', 'T')) === undefined && !isLocalTimestamp(text)) {
    return undefined;
  }
  const [, year, month, day] = match as unknown as [string, string, string, string];
  if (!isCalendarDate(Number(year), Number(month), Number(day))) return undefined;
  return `${year}-${month}-${day}`;
}

/** Whether the day exists; the month-length table for 4-digit years, Date (its rules) below 1000. */
function isCalendarDate(year: number, month: number, day: number): boolean {
  if (year >= 1000) return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const LOCAL_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?$/;

function isLocalTimestamp(text: string): boolean {
  return LOCAL_TIMESTAMP.test(text);
}

/** Trims a name, collapses inner whitespace and applies Unicode NFC; `undefined` when nothing is left. */
export function normaliseName(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const name = raw.normalize('NFC').replace(/\s+/gu, ' ').trim();
  return name.length === 0 ? undefined : name;
}

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

/**
 * Converts an ISO 8601 timestamp WITH an offset (`2026-11-26T10:00:00-05:00`) to the UTC instant
 * `2026-11-26T15:00:00Z` (seconds precision, fractions truncated). This is what makes a Shopify
 * webhook's local `updated_at` and the Admin API's UTC `updatedAt` give the same jobId.
 * `undefined` without an offset (ambiguous) or for impossible values.
 */
export function toUtcInstant(raw: string): string | undefined {
  const m = INSTANT.exec(raw.trim());
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  // Already UTC (Typeform's submitted_at, most API timestamps): the digits are the answer once the
  // day is known to exist; no Date round trip. Years below 1000 take the Date path, which is
  // what defines their (odd: Date.UTC maps 0-99 to 1900-1999) result.
  const zeroOffset =
    m[7] !== undefined || (Number(m[9]) === 0 && (m[10] === undefined || Number(m[10]) === 0));
  if (zeroOffset && year >= 1000) {
    if (day > daysInMonth(year, month)) return undefined;
    return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}Z`;
  }
  let offsetMinutes = 0;
  if (m[7] === undefined) {
    const offsetHours = Number(m[9]);
    const offsetMins = m[10] === undefined ? 0 : Number(m[10]);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (m[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  // Years 1001-9998 (every real timestamp): shift by the offset in whole minutes and roll the
  // day over by the month-length table; an offset is under a day, so at most one day moves.
  // The edge years keep the Date path, which defines what crossing year 1000 or 9999 gives.
  if (year > 1000 && year < 9999) {
    if (day > daysInMonth(year, month)) return undefined;
    let minutes = hour * 60 + minute - offsetMinutes;
    let y = year;
    let mo = month;
    let d = day;
    if (minutes < 0) {
      minutes += 1440;
      d -= 1;
      if (d === 0) {
        mo -= 1;
        if (mo === 0) {
          y -= 1;
          mo = 12;
        }
        d = daysInMonth(y, mo);
      }
    } else if (minutes >= 1440) {
      minutes -= 1440;
      d += 1;
      if (d > daysInMonth(y, mo)) {
        mo += 1;
        d = 1;
        if (mo === 13) {
          y += 1;
          mo = 1;
        }
      }
    }
    return `${y}-${pad2(mo)}-${pad2(d)}T${pad2(Math.floor(minutes / 60))}:${pad2(minutes % 60)}:${m[6] ?? '00'}Z`;
  }
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 30 February over into March: reject instead.
  if (year >= 1000) {
    if (day > daysInMonth(year, month)) return undefined;
  } else {
    const check = new Date(local);
    if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) return undefined;
  }
  const instant = new Date(local - offsetMinutes * 60_000);
  if (Number.isNaN(instant.getTime())) return undefined;
  return `${instant.toISOString().slice(0, 19)}Z`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
