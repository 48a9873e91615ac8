import { readFileSync, writeFileSync } from 'node:fs'

export const START = '<!-- bench:results:start -->'
export const END = '<!-- bench:results:end -->'

/** Replaces what lies between the results markers of bench/README.md's results section with `markdown`. */
export function replaceResults (readme: string, markdown: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start === -1 || end === -1 || end < start) throw new Error(`bench/README.md has no ${START} … ${END} block to update`)
  return readme.slice(0, start + START.length) + '\n' + markdown.trimEnd() + '\n' + readme.slice(end)
}

export function updateReadme (path: string, markdown: string): void {
  writeFileSync(path, replaceResults(readFileSync(path, 'utf8'), markdown))
}
