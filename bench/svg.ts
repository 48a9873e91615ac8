import type { BenchResult, RequestResult } from './results.js'
import type { ContestantId } from './config.js'

const COLORS: Record<ContestantId, string> = {
  limit: '#9e9e9e',
  floor: '#d0d0d0',
  plugin: '#1f6fb4',
  'plugin-sdk': '#8fb8de',
  'session-dynamodb': '#e07b1f',
  'session-memory': '#3a9a3a'
}

const WIDTH = 880
const PANEL_HEIGHT = 260
const MARGIN = { left: 70, right: 20, top: 36, bottom: 36 }

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Decade bounds of a log axis that holds every positive value. */
export function logBounds (values: readonly number[]): { lo: number, hi: number } {
  const positive = values.filter((v) => v > 0)
  if (positive.length === 0) return { lo: 1, hi: 10 }
  const lo = 10 ** Math.floor(Math.log10(Math.min(...positive)))
  let hi = 10 ** Math.ceil(Math.log10(Math.max(...positive)))
  if (hi <= lo) hi = lo * 10
  return { lo, hi }
}

function formatValue (v: number): string {
  if (v >= 10_000) return `${Math.round(v / 1000)}k`
  if (v >= 100 || Number.isInteger(v)) return String(Math.round(v))
  if (v >= 10) return v.toFixed(1)
  return v.toFixed(2)
}

function panel (result: BenchResult, top: number, title: string, value: (r: RequestResult) => number): string {
  const parts: string[] = []
  const plotTop = top + MARGIN.top
  const plotHeight = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right
  const scenarios = result.scenarios
  const contestants = result.contestants
  const { lo, hi } = logBounds(result.requests.map(value))
  const span = Math.log10(hi) - Math.log10(lo)
  // Log scale: the contestants differ by orders of magnitude between scenarios.
  const y = (v: number): number => plotTop + plotHeight - (v <= lo ? 0 : (Math.log10(v) - Math.log10(lo)) / span) * plotHeight

  parts.push(`<text x="${MARGIN.left}" y="${top + 20}" font-size="14" font-weight="bold">${esc(title)}</text>`)
  for (let decade = lo; decade <= hi * 1.001; decade *= 10) {
    for (const m of [1, 2, 5]) {
      const v = decade * m
      if (v > hi * 1.001) break
      const yy = y(v).toFixed(1)
      parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${yy}" y2="${yy}" ` +
        `stroke="${m === 1 ? '#c8c8c8' : '#ececec'}"/>`)
      parts.push(`<text x="${MARGIN.left - 6}" y="${yy}" font-size="${m === 1 ? 11 : 9}" fill="${m === 1 ? '#000' : '#777'}" ` +
        `text-anchor="end" dominant-baseline="middle">${esc(formatValue(v))}</text>`)
    }
  }
  const groupWidth = plotWidth / Math.max(1, scenarios.length)
  const barWidth = (groupWidth * 0.8) / Math.max(1, contestants.length)
  scenarios.forEach((s, i) => {
    const groupX = MARGIN.left + i * groupWidth + groupWidth * 0.1
    contestants.forEach((c, j) => {
      const r = result.requests.find((x) => x.contestant === c.id && x.scenario === s.id)
      if (r === undefined) return
      const v = value(r)
      const x = groupX + j * barWidth
      const yy = y(v)
      const h = plotTop + plotHeight - yy
      parts.push(`<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}" ` +
        `fill="${COLORS[c.id]}"><title>${esc(`${c.label}, ${s.label}: ${formatValue(v)}`)}</title></rect>`)
      parts.push(`<text x="${(x + barWidth / 2 - 1).toFixed(1)}" y="${(yy - 3).toFixed(1)}" font-size="10" text-anchor="middle">` +
        `${esc(formatValue(v))}</text>`)
    })
    parts.push(`<text x="${(MARGIN.left + (i + 0.5) * groupWidth).toFixed(1)}" y="${plotTop + plotHeight + 18}" ` +
      `font-size="12" text-anchor="middle">${esc(s.label)}</text>`)
  })
  parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${plotTop + plotHeight}" y2="${plotTop + plotHeight}" ` +
    'stroke="#333"/>')
  return parts.join('\n')
}

/** A grouped bar chart (requests/s, then app CPU per request), hand-written SVG. */
export function renderSvg (result: BenchResult): string {
  const legendHeight = 44
  const height = legendHeight + 2 * PANEL_HEIGHT
  const m = result.machine
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">`)
  parts.push(`<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`)
  const caption = `${result.mode} run, ${result.startedAt.slice(0, 10)}: ${m.cpuModel}, ${m.cores} cores, Node ${m.node}`
  parts.push(`<text x="${MARGIN.left}" y="16" font-size="11" fill="#555">${esc(caption)}</text>`)
  let x = MARGIN.left
  for (const c of result.contestants) {
    parts.push(`<rect x="${x}" y="26" width="12" height="12" fill="${COLORS[c.id]}"/>`)
    parts.push(`<text x="${x + 16}" y="36" font-size="12">${esc(c.label)}</text>`)
    x += 24 + c.label.length * 6.6
  }
  parts.push(panel(result, legendHeight, 'Requests per second (higher is better; log scale)', (r) => r.requestsPerSecond))
  parts.push(panel(
    result,
    legendHeight + PANEL_HEIGHT,
    'App CPU per request, µs (lower is better; log scale)',
    (r) => r.cpuMicrosPerRequest
  ))
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
