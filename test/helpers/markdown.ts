/** The code blocks of one language in a Markdown page, in order (docs examples the tests run). */
export function codeBlocks(markdown: string, language: string): string[] {
  const fence = new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g');
  return [...markdown.matchAll(fence)].map((m) => m[1] ?? '');
}

/** The bash code blocks of a docs page, in order. */
export function bashBlocks(markdown: string): string[] {
  return codeBlocks(markdown, 'bash');
}
