// Hostile YAML inputs shared by the tests of the safe parse and of its users.

/** The classic billion laughs: nine levels of nine aliases, 9^9 strings once expanded, in about 300 bytes. */
export function aliasBomb(): string {
  const names = 'abcdefghi';
  let text = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n`;
  for (let i = 1; i < names.length; i++) {
    const prev = `*${names[i - 1]}`;
    text += `${names[i]}: &${names[i]} [${Array(9).fill(prev).join(',')}]\n`;
  }
  return text;
}
