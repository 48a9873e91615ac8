import type { ReapReport } from './report.js'
import type { ReaperLogger } from './pass.js'
import type { ReaperStats } from './stats.js'
import { MAX_EXPIRY_YEARS_AHEAD } from '../expiry.js'

/** Writes text somewhere (a stream, a test buffer). */
export interface TextOutput { write (text: string): unknown }

/** `1h 2m 3s` */
export function formatDuration (seconds: number): string {
  const whole = Math.max(0, Math.round(seconds))
  const parts = [
    [Math.floor(whole / 86_400), 'd'], [Math.floor(whole / 3600) % 24, 'h'], [Math.floor(whole / 60) % 60, 'm'], [whole % 60, 's']
  ] as const
  const shown = parts.filter(([count]) => count > 0).map(([count, unit]) => `${count}${unit}`)
  return shown.length === 0 ? '0s' : shown.join(' ')
}

const iso = (ms: number): string => new Date(ms).toISOString()
const units = (amount: number): string => String(Math.round(amount * 100) / 100)

const STRATEGY_NOTES: Record<ReapReport['strategy'], string> = {
  index: ' (queried the expiry index)',
  scan: ' (scanned the table)',
  none: ' (no pass ran)'
}

/** One line per figure of a pass report. */
export function formatReport (report: ReapReport): string {
  return [
    `result:       ${report.result}`,
    `strategy:     ${report.strategy}${STRATEGY_NOTES[report.strategy]}`,
    `scanned:      ${report.scanned} (active ${report.active}, expired ${report.expired}, invalid ${report.invalid})`,
    `deleted:      ${report.deleted}`,
    `conflicts:    ${report.conflicts} (refreshed or already gone)`,
    `failed:       ${report.expired - report.deleted - report.conflicts}`,
    `max lag:      ${formatDuration(report.maxLagSeconds)} past expiry`,
    `capacity:     ${units(report.consumedReadUnits)} read units, ${units(report.consumedWriteUnits)} write units`,
    `duration:     ${report.durationSeconds.toFixed(3)} s`,
    ''
  ].join('\n')
}

/** The human-readable form of `dynamo-session stats`. */
export function formatStats (stats: ReaperStats, nowMs: number): string {
  const lines = [
    `table:        ${stats.tableName}`,
    `rows:         ${stats.scanned} (the reaper's lease item not counted)`,
    `  active:     ${stats.active}`,
    `  expired:    ${stats.expired}${stats.expired > 0 ? ` (oldest ${formatDuration(stats.maxLagSeconds)} past expiry)` : ''}`,
    `  invalid:    ${stats.invalid} (expiry missing, not a number, or over ${MAX_EXPIRY_YEARS_AHEAD} years ahead: ` +
      'neither TTL nor the reaper deletes them)',
    `scan cost:    ${units(stats.consumedReadUnits)} read units in ${stats.durationSeconds.toFixed(1)} s`
  ]
  const lease = stats.lease
  if (lease === undefined) {
    lines.push('reaper:       no pass has run on this table')
    return lines.join('\n') + '\n'
  }
  lines.push(lease.heldUntil !== undefined
    ? `lease:        held by ${lease.owner ?? '?'} until ${iso(lease.heldUntil)}`
    : `lease:        free${lease.owner !== undefined ? ` (last holder ${lease.owner})` : ''}`)
  if (lease.lastTick !== undefined) lines.push(`last tick:    ${iso(lease.lastTick)}`)
  lines.push(lease.lastSuccessAt !== undefined
    ? `last success: ${iso(lease.lastSuccessAt * 1000)} (${formatDuration(nowMs / 1000 - lease.lastSuccessAt)} ago)`
    : 'last success: never')
  const last = lease.lastReport
  if (last !== undefined) {
    lines.push(`last pass:    ${last.result} at ${iso(last.finishedAt * 1000)}: scanned ${last.scanned}, deleted ${last.deleted}, ` +
      `conflicts ${last.conflicts}, ${units(last.consumedReadUnits)} RCU, ${units(last.consumedWriteUnits)} WCU, ` +
      `${last.durationSeconds.toFixed(1)} s`)
  }
  if (lease.sweep !== undefined) {
    const { startedAt, streamsDone, streams } = lease.sweep
    lines.push(`sweep:        in progress since ${iso(startedAt * 1000)}, ${streamsDone}/${streams} segments done`)
  }
  return lines.join('\n') + '\n'
}

/** One line per pass, for a reaper running in the foreground. */
export function formatPassLine (report: ReapReport, atMs: number): string {
  return `${iso(atMs)} ${report.result}: scanned ${report.scanned}, expired ${report.expired}, deleted ${report.deleted}, ` +
    `conflicts ${report.conflicts}, invalid ${report.invalid}, max lag ${formatDuration(report.maxLagSeconds)}, ` +
    `${units(report.consumedReadUnits)} RCU, ${units(report.consumedWriteUnits)} WCU, ${report.durationSeconds.toFixed(1)} s` +
    `${report.strategy === 'none' ? '' : `, ${report.strategy}`}\n`
}

/** The reaper's warnings and errors as plain lines (`warn: message (name: detail)`); pass reports are printed apart. */
export function textLogger (output: TextOutput): ReaperLogger {
  const line = (level: string) => (obj: object, msg: string): void => {
    const err = (obj as { err?: { name?: string, code?: string, message?: string } }).err
    const detail = err === undefined ? '' : ` (${err.code ?? err.name ?? 'Error'}: ${err.message ?? ''})`
    output.write(`${level}: ${msg}${detail}\n`)
  }
  return { debug () {}, info () {}, warn: line('warn'), error: line('error') }
}
