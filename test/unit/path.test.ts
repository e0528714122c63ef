import { describe, expect, it } from 'vitest';
import { buildQuery, enginePath, normalizeFilters } from '../../src/engine/path.js';

describe('enginePath', () => {
  it('encodes every interpolated value', () => {
    expect(enginePath`/containers/${'a/b?c#d'}/json`).toBe('/containers/a%2Fb%3Fc%23d/json');
    expect(enginePath`/images/${'127.0.0.1:5000/x:1'}/json`).toBe('/images/127.0.0.1%3A5000%2Fx%3A1/json');
  });
  it('refuses dot segments and empty values', () => {
    expect(() => enginePath`/containers/${'..'}/json`).toThrow(/not a valid object reference/);
    expect(() => enginePath`/containers/${''}/json`).toThrow();
  });
});

describe('buildQuery', () => {
  it('drops undefined, JSON-encodes objects, repeats arrays', () => {
    expect(buildQuery({ all: true, limit: 5, x: undefined, filters: { status: ['exited'] }, type: ['image', 'volume'] })).toBe(
      '?all=true&limit=5&filters=%7B%22status%22%3A%5B%22exited%22%5D%7D&type=image&type=volume',
    );
    expect(buildQuery({})).toBe('');
  });
  it('normalizes filters to a map of arrays', () => {
    expect(normalizeFilters({ status: 'exited', label: ['a=b', 'c'], dangling: true })).toEqual({ status: ['exited'], label: ['a=b', 'c'], dangling: ['true'] });
    expect(normalizeFilters({})).toBeUndefined();
  });
});
