import assert from 'node:assert/strict';
import { test } from 'node:test';
import { charCount, cutChars } from '../src/chars.ts';

/** No lone surrogate: UTF-8 cannot encode one, so a round trip through it changes the text. */
const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;

test('characters are counted and cut as code points, never inside a surrogate pair', () => {
  assert.equal(charCount('a🚀b'), 3);
  assert.equal(charCount(''), 0);
  assert.equal(cutChars('abc', 3), 'abc');
  assert.equal(cutChars('abcd', 3), 'ab…');
  assert.equal(cutChars('🚀🚀🚀🚀', 3), '🚀🚀…');
  // Four emoji are 8 UTF-16 units but 4 characters: within a limit of 4 they are kept whole.
  assert.equal(cutChars('🚀🚀🚀🚀', 4), '🚀🚀🚀🚀');
  assert.equal(cutChars('a🚀🚀🚀', 3, ''), 'a🚀🚀');
  for (let max = 1; max < 12; max++) {
    const cut = cutChars('x🚀'.repeat(10), max);
    assert.ok(wellFormed(cut), cut);
    assert.ok(charCount(cut) <= max, cut);
  }
});
