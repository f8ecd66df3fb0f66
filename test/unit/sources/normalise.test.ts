import { describe, expect, it } from 'vitest';
import {
  normaliseDate,
  normaliseEmail,
  normaliseName,
  normalisePhone,
  toUtcInstant,
} from '../../../lib/sources/normalise.js';

describe('normaliseEmail', () => {
  it('trims and lower-cases', () => {
    expect(normaliseEmail('  Ada.Lovelace@Example.COM \n')).toBe('ada.lovelace@example.com');
  });

  it.each([
    ['no at sign', 'ada.example.com'],
    ['no domain dot', 'ada@localhost'],
    ['inner space', 'ada lovelace@example.com'],
    ['two at signs', 'a@b@example.com'],
    ['empty', '   '],
    ['trailing dot', 'ada@example.'],
  ])('rejects %s', (_name, raw) => {
    expect(normaliseEmail(raw)).toBeUndefined();
  });

  it('rejects non-strings and overlong addresses', () => {
    expect(normaliseEmail(42)).toBeUndefined();
    expect(normaliseEmail(null)).toBeUndefined();
    expect(normaliseEmail(`${'a'.repeat(250)}@example.com`)).toBeUndefined();
  });

  it('accepts 254 characters (the SMTP limit) and not 255', () => {
    const at254 = `${'a'.repeat(242)}@example.com`;
    expect(at254).toHaveLength(254);
    expect(normaliseEmail(` ${at254} `)).toBe(at254);
    expect(normaliseEmail(`a${at254}`)).toBeUndefined();
  });
});

describe('normalisePhone', () => {
  it('reads a national number in the default region', () => {
    expect(normalisePhone('(213) 373-4253', 'US')).toBe('+12133734253');
    expect(normalisePhone('07911 123456', 'GB')).toBe('+447911123456');
    expect(normalisePhone('030 1234567', 'DE')).toBe('+49301234567');
  });

  it('keeps the country of a number written with a country code, whatever the region', () => {
    expect(normalisePhone('+44 7911 123456', 'US')).toBe('+447911123456');
    expect(normalisePhone('+1 (415) 555-0123', 'DE')).toBe('+14155550123');
  });

  it('accepts the 00 international prefix', () => {
    expect(normalisePhone('0044 7911 123456', 'US')).toBe('+447911123456');
  });

  it('gives the same E.164 for the same number written differently', () => {
    const forms = ['+1 213-373-4253', '213.373.4253', '(213) 373 4253', '+12133734253'];
    expect(new Set(forms.map((raw) => normalisePhone(raw, 'US')))).toEqual(new Set(['+12133734253']));
  });

  it('reads the region case-insensitively and ignores an unknown region for international numbers', () => {
    expect(normalisePhone('07911 123456', 'gb')).toBe('+447911123456');
    expect(normalisePhone('+44 7911 123456', 'ZZ')).toBe('+447911123456');
    expect(normalisePhone('07911 123456', 'ZZ')).toBeUndefined();
  });

  it.each([
    ['letters', 'call me maybe'],
    ['too short', '555-1234'],
    ['too long', '+1 213 373 4253 4253 4253'],
    ['empty', ''],
    ['unknown country code', '+999 123 456 789'],
  ])('rejects %s', (_name, raw) => {
    expect(normalisePhone(raw, 'US')).toBeUndefined();
  });

  it('reads a positive integer as a number with its country code', () => {
    expect(normalisePhone(14155550123, 'DE')).toBe('+14155550123');
    expect(normalisePhone(-14155550123, 'US')).toBeUndefined();
    expect(normalisePhone(1.5, 'US')).toBeUndefined();
  });

  it('rejects null, undefined and objects', () => {
    expect(normalisePhone(null, 'US')).toBeUndefined();
    expect(normalisePhone(undefined, 'US')).toBeUndefined();
    expect(normalisePhone({ number: '+12133734253' }, 'US')).toBeUndefined();
  });
});

describe('normaliseDate', () => {
  it('keeps a plain date', () => {
    expect(normaliseDate('1990-05-01')).toBe('1990-05-01');
  });

  it('keeps the calendar date of a timestamp as written, not its UTC date', () => {
    expect(normaliseDate('1990-05-01T00:00:00-05:00')).toBe('1990-05-01');
    expect(normaliseDate('1990-05-01T23:30:00+14:00')).toBe('1990-05-01');
    expect(normaliseDate('2026-11-26T10:00:00.000Z')).toBe('2026-11-26');
    expect(normaliseDate('2026-11-26T10:00:00')).toBe('2026-11-26');
  });

  it.each([
    ['an impossible day', '2026-02-30'],
    ['an impossible month', '2026-13-01'],
    ['a day-first date', '01/05/1990'],
    ['a timestamp with a broken time', '2026-11-26Tnoon'],
    ['words', 'yesterday'],
  ])('rejects %s', (_name, raw) => {
    expect(normaliseDate(raw)).toBeUndefined();
  });

  it('accepts 29 February only in a leap year', () => {
    expect(normaliseDate('2024-02-29')).toBe('2024-02-29');
    expect(normaliseDate('2026-02-29')).toBeUndefined();
  });
});

describe('normaliseName', () => {
  it('trims and collapses inner whitespace', () => {
    expect(normaliseName('  Ada \t  King\nLovelace ')).toBe('Ada King Lovelace');
  });

  it('keeps unicode names and composes them to NFC', () => {
    expect(normaliseName('Zoe\u0308')).toBe('Zoë');
    expect(normaliseName('Zoe\u0308')).toHaveLength(3);
    expect(normaliseName('Łukasz Żółć')).toBe('Łukasz Żółć');
    expect(normaliseName('李小龍')).toBe('李小龍');
  });

  it('gives undefined for empty and non-string values', () => {
    expect(normaliseName('   ')).toBeUndefined();
    expect(normaliseName(null)).toBeUndefined();
    expect(normaliseName(7)).toBeUndefined();
  });
});

describe('toUtcInstant', () => {
  it('converts an offset timestamp to UTC', () => {
    expect(toUtcInstant('2026-11-26T10:00:00-05:00')).toBe('2026-11-26T15:00:00Z');
    expect(toUtcInstant('2026-11-26T10:00:00+05:30')).toBe('2026-11-26T04:30:00Z');
  });

  it('gives the same instant for the same moment written in different zones', () => {
    const written = ['2026-11-26T10:00:00-05:00', '2026-11-26T15:00:00Z', '2026-11-26T16:00:00+01:00'];
    expect(new Set(written.map(toUtcInstant))).toEqual(new Set(['2026-11-26T15:00:00Z']));
  });

  it('crosses day, month and year boundaries', () => {
    expect(toUtcInstant('2026-12-31T23:30:00-02:00')).toBe('2027-01-01T01:30:00Z');
    expect(toUtcInstant('2026-03-01T00:15:00+01:00')).toBe('2026-02-28T23:15:00Z');
  });

  it('drops fractions and accepts offsets without a colon and minutes without seconds', () => {
    expect(toUtcInstant('2026-11-26T10:00:00.987654Z')).toBe('2026-11-26T10:00:00Z');
    expect(toUtcInstant('2026-11-26T10:00:00+0100')).toBe('2026-11-26T09:00:00Z');
    expect(toUtcInstant('2026-11-26T10:00Z')).toBe('2026-11-26T10:00:00Z');
  });

  it.each([
    ['no offset', '2026-11-26T10:00:00'],
    ['a date only', '2026-11-26'],
    ['an impossible date', '2026-02-30T10:00:00Z'],
    ['an impossible hour', '2026-11-26T25:00:00Z'],
    ['garbage', 'soon'],
  ])('gives undefined for %s', (_name, raw) => {
    expect(toUtcInstant(raw)).toBeUndefined();
  });
});
