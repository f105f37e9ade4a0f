// gosimple/slug v1.15.0 `slug.Make` with the settings the Flux Operator sets (FO
// internal/builder/resourceset.go init: MaxLength = 63, EnableSmartTruncate = true), per
// ../shared/reference/resourceset.md §1.4: TrimSpace; the "en" rune substitutions (& → and,
// @ → at, quotes removed, dashes → -); unidecode transliteration; lowercase; every character
// outside [a-z0-9-_] → '-'; runs of '-' collapsed; '-' and '_' trimmed from both ends; smart
// truncation at the last '-' within 63 bytes.
//
// unidecode (github.com/rainycape/unidecode) has a table for every BMP code point; this module
// approximates it: Unicode NFKD with combining marks dropped covers accented Latin letters, and
// the table below covers Latin letters without a decomposition, Greek, Cyrillic and common
// symbols. Other scripts (CJK, Arabic…) are dropped, where unidecode would transliterate them.

const MAX_LENGTH = 63;

const SUBSTITUTIONS: Record<string, string> = {
  '&': 'and',
  '@': 'at',
  '"': '',
  "'": '',
  '\u2019': '',
  '\u2012': '-',
  '\u2013': '-',
  '\u2014': '-',
  '\u2015': '-',
};

const TRANSLITERATION: Record<string, string> = {
  ß: 'ss',
  ẞ: 'SS',
  æ: 'ae',
  Æ: 'AE',
  ø: 'o',
  Ø: 'O',
  œ: 'oe',
  Œ: 'OE',
  đ: 'd',
  Đ: 'D',
  ð: 'd',
  Ð: 'D',
  ł: 'l',
  Ł: 'L',
  þ: 'th',
  Þ: 'TH',
  ı: 'i',
  ħ: 'h',
  Ħ: 'H',
  ŋ: 'ng',
  Ŋ: 'NG',
  ŧ: 't',
  Ŧ: 'T',
  ĸ: 'q',
  '\u2018': "'",
  '\u201c': '"',
  '\u201d': '"',
  '\u2026': '...',
  '€': 'EU',
  '£': 'PS',
  '¥': 'Y=',
  '©': '(c)',
  '®': '(r)',
  '™': '(tm)',
  '°': 'deg',
  '×': 'x',
  '÷': '/',
  // Greek
  α: 'a',
  β: 'b',
  γ: 'g',
  δ: 'd',
  ε: 'e',
  ζ: 'z',
  η: 'e',
  θ: 'th',
  ι: 'i',
  κ: 'k',
  λ: 'l',
  μ: 'm',
  ν: 'n',
  ξ: 'ks',
  ο: 'o',
  π: 'p',
  ρ: 'r',
  σ: 's',
  ς: 's',
  τ: 't',
  υ: 'u',
  φ: 'ph',
  χ: 'kh',
  ψ: 'ps',
  ω: 'o',
  Α: 'A',
  Β: 'B',
  Γ: 'G',
  Δ: 'D',
  Ε: 'E',
  Ζ: 'Z',
  Η: 'E',
  Θ: 'Th',
  Ι: 'I',
  Κ: 'K',
  Λ: 'L',
  Μ: 'M',
  Ν: 'N',
  Ξ: 'Ks',
  Ο: 'O',
  Π: 'P',
  Ρ: 'R',
  Σ: 'S',
  Τ: 'T',
  Υ: 'U',
  Φ: 'Ph',
  Χ: 'Kh',
  Ψ: 'Ps',
  Ω: 'O',
  // Cyrillic
  а: 'a',
  б: 'b',
  в: 'v',
  г: 'g',
  д: 'd',
  е: 'e',
  ё: 'io',
  ж: 'zh',
  з: 'z',
  и: 'i',
  й: 'i',
  к: 'k',
  л: 'l',
  м: 'm',
  н: 'n',
  о: 'o',
  п: 'p',
  р: 'r',
  с: 's',
  т: 't',
  у: 'u',
  ф: 'f',
  х: 'kh',
  ц: 'ts',
  ч: 'ch',
  ш: 'sh',
  щ: 'shch',
  ъ: "'",
  ы: 'y',
  ь: "'",
  э: 'e',
  ю: 'iu',
  я: 'ia',
  є: 'ie',
  і: 'i',
  ї: 'i',
  ґ: 'g',
  А: 'A',
  Б: 'B',
  В: 'V',
  Г: 'G',
  Д: 'D',
  Е: 'E',
  Ё: 'Io',
  Ж: 'Zh',
  З: 'Z',
  И: 'I',
  Й: 'I',
  К: 'K',
  Л: 'L',
  М: 'M',
  Н: 'N',
  О: 'O',
  П: 'P',
  Р: 'R',
  С: 'S',
  Т: 'T',
  У: 'U',
  Ф: 'F',
  Х: 'Kh',
  Ц: 'Ts',
  Ч: 'Ch',
  Ш: 'Sh',
  Щ: 'Shch',
  Ъ: "'",
  Ы: 'Y',
  Ь: "'",
  Э: 'E',
  Ю: 'Iu',
  Я: 'Ia',
  Є: 'Ie',
  І: 'I',
  Ї: 'I',
  Ґ: 'G',
};

function transliterate(text: string): string {
  let out = '';
  for (const ch of text) {
    if (ch.charCodeAt(0) < 0x80) {
      out += ch;
      continue;
    }
    const mapped = TRANSLITERATION[ch];
    if (mapped !== undefined) {
      out += mapped;
      continue;
    }
    const stripped = ch.normalize('NFKD').replace(/\p{M}/gu, '');
    out += Array.from(stripped).every((c) => c.charCodeAt(0) < 0x80)
      ? stripped
      : Array.from(stripped)
          .map((c) => (c.charCodeAt(0) < 0x80 ? c : (TRANSLITERATION[c] ?? '')))
          .join('');
  }
  return out;
}

const isGoSpace = (ch: string): boolean =>
  /^[\t\n\v\f\r \u0085\u00a0\p{Zs}\u2028\u2029]$/u.test(ch);

function trimSpace(text: string): string {
  const chars = Array.from(text);
  let start = 0;
  let end = chars.length;
  while (start < end && isGoSpace(chars[start] ?? '')) start++;
  while (end > start && isGoSpace(chars[end - 1] ?? '')) end--;
  return chars.slice(start, end).join('');
}

/** gosimple/slug Make (lang "en") with MaxLength 63 and smart truncation. */
export function slugify(text: string): string {
  let slug = trimSpace(text);
  slug = Array.from(slug)
    .map((ch) => SUBSTITUTIONS[ch] ?? ch)
    .join('');
  slug = transliterate(slug).toLowerCase();
  slug = slug.replace(/[^a-z0-9\-_]/g, '-').replace(/-+/g, '-');
  slug = slug.replace(/^[-_]+|[-_]+$/g, '');
  if (slug.length <= MAX_LENGTH) return slug;
  for (let i = MAX_LENGTH; i >= 0; i--) if (slug[i] === '-') return slug.slice(0, i);
  return slug.slice(0, MAX_LENGTH);
}
