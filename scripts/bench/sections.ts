/**
 * BENCHMARKS.md is written by more than one benchmark: each owns a section between
 * `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`, which the others keep as it is.
 */
const markers = (name: string) => [`<!-- bench:${name}:start -->`, `<!-- bench:${name}:end -->`] as const;

/** `doc` with the section `name` replaced by `body` (appended when absent). */
export function replaceSection(doc: string, name: string, body: string): string {
  const [start, end] = markers(name);
  const block = `${start}\n${body.trimEnd()}\n${end}\n`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length).replace(/^\n/, '');
  return `${doc.trimEnd()}\n\n${block}`;
}

/** Every section of `doc`, for a writer that regenerates the rest of the file and keeps them. */
export function otherSections(doc: string): string {
  const out: string[] = [];
  for (const m of doc.matchAll(/<!-- bench:([a-z0-9-]+):start -->[\s\S]*?<!-- bench:\1:end -->\n?/g)) out.push(m[0].trimEnd());
  return out.length ? `\n${out.join('\n\n')}\n` : '';
}
