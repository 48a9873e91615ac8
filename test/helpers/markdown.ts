// Reading the project's Markdown as GitHub renders it: heading anchors and relative links, outside code.

/** The anchor GitHub gives a heading's text (github-slugger): inline markup dropped, lower case, spaces to `-`. */
export function githubSlug (heading: string): string {
  const text = heading.trim()
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link or image: its text
    .replace(/[`*]/g, '') // code spans and emphasis: their text
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\s-]/gu, '').replace(/\s/g, '-')
}

/** The lines of a Markdown text that GitHub renders as text: fenced code blocks blanked, inline code removed. */
function proseLines (markdown: string): string[] {
  let fence: string | undefined
  return markdown.split('\n').map((line) => {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1]
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined
      return ''
    }
    if (marker !== undefined) {
      fence = marker
      return ''
    }
    return line
  })
}

/** Every anchor the headings of a Markdown text define, with GitHub's `-1`, `-2` … suffixes for repeats. */
export function headingAnchors (markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1]
    if (heading === undefined) continue
    const slug = githubSlug(heading)
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}

export interface MarkdownLink { line: number, target: string }

/** The targets of the links and images of a Markdown text that stay inside the repository (no scheme). */
export function relativeLinks (markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = []
  proseLines(markdown).forEach((text, index) => {
    const prose = text.replace(/`[^`]*`/g, '')
    for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1] as string
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
      links.push({ line: index + 1, target })
    }
  })
  return links
}
