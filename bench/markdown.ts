import { ALTERNATIVE, BASELINE, FLOOR, SDK_TRANSPORT } from './config.js'
import type { BenchResult, ProfileSummary, Ratio, RequestResult } from './results.js'

function num (v: number, digits = 0): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function units (v: number, source: RequestResult['dynamo']['unitsSource']): string {
  if (v === 0) return '0'
  return source === 'estimated' || source === 'mixed' ? `${v.toFixed(2)}\\*` : v.toFixed(2)
}

/** autocannon records whole milliseconds. */
function ms (v: number): string {
  return v < 1 ? '<1' : num(v)
}

function calls (r: RequestResult): string {
  if (r.dynamo.calls === 0) return '0'
  const detail = Object.entries(r.dynamo.callsByOperation)
    .filter(([, n]) => n >= 0.005)
    .map(([op, n]) => `${op} ${n.toFixed(2)}`)
    .join(', ')
  return `${r.dynamo.calls.toFixed(2)} (${detail})`
}

function times (v: number | null): string {
  return v === null ? 'n/a' : `${v.toFixed(2)}×`
}

/** The header line every table carries: mode, date, machine. */
export function machineLine (result: BenchResult): string {
  const m = result.machine
  const s = result.settings
  return `${result.mode === 'full' ? 'Full' : 'Quick'} run of ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC on ${m.cpuModel} ` +
    `(${m.cores} cores, ${m.platform} ${m.arch}, ${num(m.totalMemoryMiB)} MiB), Node ${m.node}; ` +
    `load average ${m.loadAverage1m} at start. ` +
    `autocannon: ${s.connections} connections${s.rate === undefined ? '' : `, ${num(s.rate)} requests/s offered to each`}; ` +
    `${s.rounds === 1 ? 'one run' : `${s.rounds} rounds`} of ${s.durationSeconds} s ` +
    'per contestant and scenario ' +
    `after ${s.warmupSeconds} s of warm-up${s.rounds === 1 ? '' : ' (req/s and latency: median of the rounds)'}; ` +
    'app, dynalite (behind a counting proxy) and autocannon each in their own process on 127.0.0.1.'
}

/** bench/results/latest.md: the tables bench/README.md embeds. */
export function renderMarkdown (result: BenchResult): string {
  const lines: string[] = []
  const label = (id: string): string => result.contestants.find((c) => c.id === id)?.label ?? id
  lines.push(machineLine(result), '')
  lines.push('| scenario | contestant | req/s | p50 ms | p99 ms | app CPU µs/req | dynalite CPU µs/req | DynamoDB calls/req | ' +
    'read units/req | write units/req |')
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |')
  for (const s of result.scenarios) {
    for (const c of result.contestants) {
      const r = result.requests.find((x) => x.scenario === s.id && x.contestant === c.id)
      if (r === undefined) continue
      const failed = r.failures > 0 ? ` (${num(r.failures)} failed)` : ''
      lines.push(`| ${s.label} | ${c.label} | ${num(r.requestsPerSecond)}${failed} | ${ms(r.latencyMs.p50)} | ${ms(r.latencyMs.p99)} | ` +
        `${num(r.cpuMicrosPerRequest)} | ${num(r.databaseCpuMicrosPerRequest)} | ${calls(r)} | ` +
        `${units(r.dynamo.readUnits, r.dynamo.unitsSource)} | ${units(r.dynamo.writeUnits, r.dynamo.unitsSource)} |`)
    }
  }
  lines.push('')
  lines.push('\\* computed from item sizes by the counting proxy, because that store does not ask DynamoDB for ConsumedCapacity; ' +
    'other units are DynamoDB\'s own ConsumedCapacity figures (see bench/README.md).')
  lines.push('')
  lines.push(
    `Ratios, same run (${label('plugin')} divided by the other; ` +
      `throughput above 1× and the others below 1× favour ${label('plugin')}):`,
    ''
  )
  lines.push('| scenario | versus | throughput | CPU/req | p99 latency | DynamoDB calls/req | capacity units/req |')
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: |')
  for (const r of result.ratios) {
    const s = result.scenarios.find((x) => x.id === r.scenario)?.label ?? r.scenario
    const row = (versus: string, q: Ratio): string =>
      `| ${s} | ${versus} | ${times(q.requestsPerSecond)} | ${times(q.cpuMicrosPerRequest)} | ${times(q.latencyP99)} | ` +
      `${times(q.dynamoCallsPerRequest)} | ${times(q.capacityUnitsPerRequest)} |`
    lines.push(row(label(BASELINE), r.pluginVsLimit))
    lines.push(row(label(ALTERNATIVE), r.pluginVsAlternative))
  }
  lines.push('')
  lines.push(...renderTransport(result, label))
  lines.push(...renderReaper(result))
  lines.push(...(result.profiles ?? []).flatMap((p) => renderProfile(p, label)))
  return lines.join('\n') + '\n'
}

/** App CPU per request of both transports against the raw calls, and the targets the fast transport is held to. */
function renderTransport (result: BenchResult, label: (id: string) => string): string[] {
  const lines: string[] = []
  const cpu = (contestant: string, scenario: string): string => {
    const r = result.requests.find((x) => x.contestant === contestant && x.scenario === scenario)
    return r === undefined ? 'n/a' : num(r.cpuMicrosPerRequest)
  }
  lines.push(`App CPU per request of the two transports and of the floor (each divided by ${label(BASELINE)}; ` +
    `the ${label(FLOOR)} ratio bounds what any transport could reach):`, '')
  lines.push(`| scenario | ${label(BASELINE)} µs | fast transport µs | ratio | sdk transport µs | ratio | ${label(FLOOR)} µs | ratio |`)
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of result.ratios) {
    const s = result.scenarios.find((x) => x.id === r.scenario)?.label ?? r.scenario
    lines.push(`| ${s} | ${cpu(BASELINE, r.scenario)} | ${cpu('plugin', r.scenario)} | ${times(r.pluginVsLimit.cpuMicrosPerRequest)} | ` +
      `${cpu(SDK_TRANSPORT, r.scenario)} | ${times(r.sdkTransportVsLimit.cpuMicrosPerRequest)} | ` +
      `${cpu(FLOOR, r.scenario)} | ${times((r.floorVsLimit as Ratio | undefined)?.cpuMicrosPerRequest ?? null)} |`)
  }
  lines.push('', 'Targets of the fast transport (the plugin with its defaults):', '')
  lines.push('| scenario | figure | versus | target | this run | met |')
  lines.push('| --- | --- | --- | ---: | ---: | --- |')
  for (const t of result.targets) {
    const figure = t.figure === 'cpuMicrosPerRequest' ? 'app CPU/req' : 'req/s'
    const s = result.scenarios.find((x) => x.id === t.scenario)?.label ?? t.scenario
    lines.push(`| ${s} | ${figure} | ${label(t.versus)} | ${t.bound === 'max' ? '≤' : '≥'} ${t.limit}× | ${times(t.actual)} | ` +
      `${t.met === null ? 'n/a' : t.met ? 'yes' : 'no'} |`)
  }
  lines.push('')
  return lines
}

/** Where one profiled app spent its CPU: self time by package, then the busiest functions. */
function renderProfile (profile: ProfileSummary, label: (id: string) => string): string[] {
  const lines = ['', `CPU profile of ${label(profile.contestant)} (self time, ${num(profile.busyMs)} ms sampled, idle excluded):`, '']
  lines.push('| package | % |', '| --- | ---: |')
  for (const p of profile.packages) lines.push(`| ${p.name} | ${num(p.percent, 1)} |`)
  lines.push('', '| function | where | % |', '| --- | --- | ---: |')
  for (const f of profile.functions) lines.push(`| ${f.name.replaceAll('|', '\\|')} | ${f.where} | ${num(f.percent, 1)} |`)
  return lines
}

function renderReaper (result: BenchResult): string[] {
  const section = result.reaper
  const lines: string[] = []
  if (section.status !== 'ok') {
    lines.push(`Reaper: not measured (${section.status}): ${section.message ?? 'no reason recorded'}`)
    return lines
  }
  const caps = section.defaultCaps
  lines.push('Reaper, one `runOnce()` pass per row (caps raised so the pass runs at full speed; ' +
    'the last column is the same pass under the default caps' +
    (caps === undefined ? ')' : ` of ${caps.maxReadUnitsPerSecond} read and ${caps.maxWriteUnitsPerSecond} write units/s)`) + ':', '')
  lines.push('| rows | expired | segments | rows deleted | pass s | rows deleted/s | read units | write units | s at default caps |')
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of section.results) {
    lines.push(`| ${num(r.rows)} | ${num(r.expiredFraction * 100)}% | ${r.segments} | ${num(r.deleted)} | ` +
      `${num(r.seconds, 2)} | ${num(r.rowsDeletedPerSecond)} | ` +
      `${num(r.readUnits, 1)} | ${num(r.writeUnits, 1)} | ${num(r.secondsAtDefaultCaps)} |`)
  }
  return lines
}
