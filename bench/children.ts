import { fork, type ChildProcess } from 'node:child_process'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Messages from parent to child: `{ id, call, args }`; replies `{ id, result }` or `{ id, error }`. */
interface CallMessage { id: number, call: string, args?: unknown }
interface ReplyMessage { id: number, result?: unknown, error?: string }
interface ReadyMessage { ready: unknown }
interface FailedMessage { failed: string }

export type Handlers = Record<string, (args: unknown) => unknown>

const live = new Set<ChildProcess>()

/** Kills every child still running, by its PID. Safe to call more than once. */
export function killAllChildren (): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try { process.kill(child.pid, 'SIGKILL') } catch { /* already gone */ }
    }
  }
  live.clear()
}

process.once('exit', killAllChildren)

/** A bench module run as a child: same extension as this file, so compiled and ts-node runs both work. */
export function benchFile (name: string): string {
  const ext = extname(fileURLToPath(import.meta.url))
  return fileURLToPath(new URL(`./${name}${ext}`, import.meta.url))
}

export interface ChildOptions {
  env?: NodeJS.ProcessEnv
  execArgv?: string[]
  args?: string[]
  /** How long the child may take to report ready. Defaults to 60 s. */
  readyTimeoutMs?: number
}

export interface Child<Info> {
  readonly pid: number
  readonly info: Info
  /** Rejects when the child has not answered within `timeoutMs` (default 60 s). */
  call<T> (name: string, args?: unknown, timeoutMs?: number): Promise<T>
  /** Asks the child to exit cleanly (so --cpu-prof writes its profile), then kills it after `graceMs`. */
  stop (graceMs?: number): Promise<void>
}

type PendingCalls = Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>

/** Forks a bench module with IPC and waits for its ready message. */
export async function startChild<Info> (file: string, options: ChildOptions = {}): Promise<Child<Info>> {
  const child = fork(file, options.args ?? [], {
    env: options.env ?? process.env,
    execArgv: options.execArgv ?? process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  live.add(child)
  const pending: PendingCalls = new Map()
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    live.delete(child)
    for (const p of pending.values()) p.reject(new Error(`${file} exited during a call`))
    pending.clear()
    resolve()
  }))

  const info = await waitForReady<Info>(child, file, options.readyTimeoutMs ?? 60_000)
  child.on('message', (msg: ReplyMessage | ReadyMessage) => settleReply(pending, msg))

  return {
    pid: child.pid as number,
    info,
    call: callerOf(child, file, pending),
    stop: async (graceMs = 5000) => await stopChild(child, exited, graceMs)
  }
}

/** The child's ready info; kills the child when it fails, exits or stays silent for `readyTimeoutMs`. */
async function waitForReady<Info> (child: ChildProcess, file: string, readyTimeoutMs: number): Promise<Info> {
  return await new Promise<Info>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not report ready within ${readyTimeoutMs} ms`)), readyTimeoutMs)
    const onMessage = (msg: ReadyMessage | FailedMessage | ReplyMessage): void => {
      if ('ready' in msg) { clearTimeout(timer); resolve(msg.ready as Info) }
      if ('failed' in msg) { clearTimeout(timer); reject(new Error(`${file} failed to start: ${msg.failed}`)) }
    }
    child.on('message', onMessage)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${file} exited before ready (code ${code}, signal ${signal})`))
    })
  }).catch((err: Error) => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL')
    throw err
  })
}

/** Settles the pending call a reply answers. */
function settleReply (pending: PendingCalls, msg: ReplyMessage | ReadyMessage): void {
  if (!('id' in msg)) return
  const p = pending.get(msg.id)
  if (p === undefined) return
  pending.delete(msg.id)
  if (msg.error !== undefined) p.reject(new Error(msg.error))
  else p.resolve(msg.result)
}

/** `Child.call`: sends a numbered call and waits for its reply. */
function callerOf (child: ChildProcess, file: string, pending: PendingCalls): Child<unknown>['call'] {
  let nextId = 1
  return async <T>(name: string, args?: unknown, timeoutMs = 60_000): Promise<T> => {
    const id = nextId++
    let timer: NodeJS.Timeout | undefined
    const reply = new Promise<unknown>((resolve, reject) => {
      pending.set(id, { resolve, reject })
      timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`${file}: no answer to ${name} within ${timeoutMs} ms`))
      }, timeoutMs)
    })
    child.send({ id, call: name, args } satisfies CallMessage)
    try {
      return await reply as T
    } finally {
      clearTimeout(timer)
    }
  }
}

/** `Child.stop`: asks the child to shut down, and kills it after `graceMs`. */
async function stopChild (child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  if (child.connected) child.send({ id: 0, call: 'shutdown' } satisfies CallMessage)
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
  }, graceMs)
  await exited
  clearTimeout(timer)
}

/**
 * The child side: answers calls with `handlers`, reports `ready` once `start` resolves, and exits when the parent
 * goes away or asks it to (`shutdown` runs `close` first).
 */
export function serveChild<Info> (start: () => Promise<{ info: Info, handlers: Handlers, close: () => Promise<void> }>): void {
  if (process.send === undefined) throw new Error('this module runs as a child of the bench runner (bench/run.ts)')
  const send = (msg: ReplyMessage | ReadyMessage | FailedMessage): void => { if (process.connected) process.send?.(msg) }
  process.on('disconnect', () => process.exit(0))
  start().then(({ info, handlers, close }) => {
    process.on('message', (msg: CallMessage) => {
      if (msg.call === 'shutdown') {
        close().finally(() => process.exit(0))
        return
      }
      const handler = handlers[msg.call]
      Promise.resolve()
        .then(() => {
          if (handler === undefined) throw new Error(`unknown call ${msg.call}`)
          return handler(msg.args)
        })
        .then((result) => send({ id: msg.id, result }), (err: Error) => send({ id: msg.id, error: err.message }))
    })
    send({ ready: info })
  }, (err: Error) => {
    send({ failed: err.stack ?? err.message })
    process.exit(1)
  })
}
