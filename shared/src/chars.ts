// GitHub limits texts (titles, bodies, comments, status descriptions) in characters, counting code points: an emoji
// is one character there but two UTF-16 units in a JavaScript string, and cutting a string by `slice` can split
// such a pair, leaving a lone surrogate that is not valid UTF-8 and that GitHub refuses or mangles.

/** How many characters GitHub counts in `text`: its code points. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * `text` cut to at most `max` characters (code points), ending with `ellipsis` when anything was cut; a surrogate
 * pair is never split.
 */
export function cutChars(text: string, max: number, ellipsis = '…'): string {
  // A UTF-16 length within the limit is a code point count within it too.
  if (text.length <= max) return text;
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return `${chars.slice(0, Math.max(0, max - charCount(ellipsis))).join('')}${ellipsis}`;
}
