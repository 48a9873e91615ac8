import { readFileSync, writeFileSync } from 'node:fs'

export const START = '<!-- bench:results:start -->'
export const END = '<!-- bench:results:end -->'

/** Replaces what lies between the markers `start` and `end` of `text` with `markdown`. */
export function replaceBetween (text: string, markdown: string, start: string, end: string): string {
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from === -1 || to === -1 || to < from) throw new Error(`no ${start} … ${end} block to update`)
  return text.slice(0, from + start.length) + '\n' + markdown.trimEnd() + '\n' + text.slice(to)
}

/** Replaces what lies between the results markers of bench/README.md's results section with `markdown`. */
export function replaceResults (readme: string, markdown: string): string {
  return replaceBetween(readme, markdown, START, END)
}

export function updateReadme (path: string, markdown: string): void {
  writeFileSync(path, replaceResults(readFileSync(path, 'utf8'), markdown))
}
