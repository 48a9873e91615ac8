import { readFileSync } from 'node:fs'
import type { ContestantId } from './config.js'
import type { ProfileSummary } from './results.js'

/** The parts of a V8 .cpuprofile (Chrome DevTools' format) the summary reads. */
interface CpuProfile {
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number } }>
  samples: number[]
  timeDeltas: number[]
}

const TOP_PACKAGES = 12
const TOP_FUNCTIONS = 15
/** V8's pseudo-frames: (idle) is time with nothing to run, not CPU. */
const IDLE = '(idle)'

/** The package a frame's script belongs to: an npm package, Node's internals, V8's pseudo-frames, or our own code. */
export function packageOf (url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  if (url.startsWith('node:')) return 'node (internals)'
  if (url.startsWith('wasm://')) return 'undici (llhttp, wasm)'
  // `npm run bench` runs src/ and bench/ compiled into node_modules/.cache/.
  const own = /\/node_modules\/\.cache\/[^/]+\/(src|bench)\//.exec(url)
  if (own !== null) return own[1] === 'src' ? 'fastify-dynamo-session' : 'bench (the contestant\'s routes)'
  const marker = url.lastIndexOf('/node_modules/')
  if (marker !== -1) {
    const parts = url.slice(marker + '/node_modules/'.length).split('/')
    return parts[0]?.startsWith('@') === true ? `${parts[0]}/${parts[1] ?? ''}` : parts[0] ?? url
  }
  if (url.includes('/src/')) return 'fastify-dynamo-session'
  if (url.includes('/bench/')) return 'bench (the contestant\'s routes)'
  return url
}

function shortPath (url: string): string {
  const own = /\/node_modules\/\.cache\/[^/]+\/((src|bench)\/.*)$/.exec(url)
  if (own !== null) return own[1] as string
  const marker = url.lastIndexOf('/node_modules/')
  if (marker !== -1) return url.slice(marker + '/node_modules/'.length)
  const src = url.lastIndexOf('/src/')
  return src !== -1 ? url.slice(src + 1) : url.replace(/^file:\/\//, '')
}

function top (totals: Map<string, number>, count: number): Array<[string, number]> {
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, count)
}

function add (totals: Map<string, number>, key: string, micros: number): void {
  totals.set(key, (totals.get(key) ?? 0) + micros)
}

/** Self time per package and per function, in % of the sampled time the process was not idle. */
export function summarizeProfile (contestant: ContestantId, profile: CpuProfile): ProfileSummary {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]))
  const packages = new Map<string, number>()
  const functions = new Map<string, number>()
  let busy = 0
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id)
    const micros = profile.timeDeltas[i] ?? 0
    if (frame === undefined || frame.functionName === IDLE) return
    busy += micros
    add(packages, packageOf(frame.url, frame.functionName), micros)
    const where = frame.url === '' ? '' : `${shortPath(frame.url)}:${frame.lineNumber + 1}`
    add(functions, `${frame.functionName === '' ? '(anonymous)' : frame.functionName}\u0000${where}`, micros)
  })
  const percent = (micros: number): number => busy > 0 ? Math.round(micros / busy * 1000) / 10 : 0
  return {
    contestant,
    busyMs: Math.round(busy / 1000),
    packages: top(packages, TOP_PACKAGES).map(([name, micros]) => ({ name, percent: percent(micros) })),
    functions: top(functions, TOP_FUNCTIONS).map(([key, micros]) => {
      const [name = '', where = ''] = key.split('\u0000')
      return { name, where, percent: percent(micros) }
    })
  }
}

/** Reads and summarizes a .cpuprofile file. */
export function readProfile (contestant: ContestantId, path: string): ProfileSummary {
  return summarizeProfile(contestant, JSON.parse(readFileSync(path, 'utf8')) as CpuProfile)
}
