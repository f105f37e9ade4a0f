// go-yaml v2 map key order, keyList.Less (go-yaml/yaml@v2.4.0 sorter.go:11-79), for the string
// keys every JSON-derived map has: runes compared one by one; at the first difference two letters
// compare by code point, a letter sorts after a non-letter, and runs of digits compare as numbers
// (so "a2" < "a10"); equal numbers put the shorter run first.

const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

const isLetter = (r: string): boolean => LETTER.test(r);
const isDigit = (r: string | undefined): boolean => r !== undefined && DIGIT.test(r);
const code = (r: string | undefined): number => r?.codePointAt(0) ?? 0;

/** Go's int64 arithmetic `n*10 + (r - '0')`, wrapping like int64 does on overflow. */
function digitRun(runes: readonly string[], start: number, seed: bigint): [bigint, number] {
  let n = seed;
  let i = start;
  for (; i < runes.length && isDigit(runes[i]); i++) {
    n = BigInt.asIntN(64, n * 10n + BigInt(code(runes[i]) - 48));
  }
  return [n, i];
}

/** go-yaml v2 keyList.Less for two string keys: true when a sorts before b. */
export function goKeyLess(a: string, b: string): boolean {
  const ar = Array.from(a);
  const br = Array.from(b);
  for (let i = 0; i < ar.length && i < br.length; i++) {
    const ai = ar[i] ?? '';
    const bi = br[i] ?? '';
    if (ai === bi) continue;
    const al = isLetter(ai);
    const bl = isLetter(bi);
    if (al && bl) return code(ai) < code(bi);
    if (al || bl) return bl;
    // sorter.go:49-57: a '0' at the difference continues a number only if a non-zero digit
    // precedes it in the shared digit run; otherwise leading zeros count for nothing.
    let seed = 0n;
    if (ai === '0' || bi === '0') {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== '0') {
          seed = 1n;
          break;
        }
      }
    }
    const [an, aEnd] = digitRun(ar, i, seed);
    const [bn, bEnd] = digitRun(br, i, seed);
    if (an !== bn) return an < bn;
    if (aEnd !== bEnd) return aEnd < bEnd;
    return code(ai) < code(bi);
  }
  return ar.length < br.length;
}

/** Array.prototype.sort comparator built on goKeyLess. */
export function goKeyCompare(a: string, b: string): number {
  if (a === b) return 0;
  return goKeyLess(a, b) ? -1 : goKeyLess(b, a) ? 1 : 0;
}
