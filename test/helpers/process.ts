import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'

interface Teardown { teardown (fn: () => unknown): void }

/** A bound for a hung child, not a wait: tests end as soon as the child has answered or exited. */
const GUARD_MS = 120_000

/** A child process whose output lines a test can wait for; killed (by its pid) at teardown. */
export interface Child {
  readonly process: ChildProcessWithoutNullStreams
  /** Resolves with the first line of stdout or stderr (seen so far or to come) that `match` accepts. */
  line (match: (line: string) => boolean): Promise<string>
  /** All output so far, for failure messages. */
  output (): string
  /** SIGTERM, then resolves with the exit code. */
  stop (): Promise<number | null>
}

/**
 * Starts `node args...` with exactly `env` (plus PATH), the way a user's shell would run an example: nothing of the
 * test runner's environment leaks in.
 */
export function startNode (t: Teardown, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Child {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'], ...(cwd !== undefined ? { cwd } : {})
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const guard = setTimeout(() => child.kill('SIGKILL'), GUARD_MS)
  t.teardown(async () => {
    clearTimeout(guard)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const lines: string[] = []
  const waiters = new Set<{ match: (line: string) => boolean, resolve: (line: string) => void }>()
  let all = ''
  const onData = (partial: { text: string }) => (chunk: Buffer): void => {
    all += chunk.toString()
    partial.text += chunk.toString()
    const complete = partial.text.split('\n')
    partial.text = complete.pop() ?? ''
    for (const line of complete) {
      lines.push(line)
      for (const waiter of waiters) if (waiter.match(line)) { waiters.delete(waiter); waiter.resolve(line) }
    }
  }
  child.stdout.on('data', onData({ text: '' }))
  child.stderr.on('data', onData({ text: '' }))
  return {
    process: child,
    output: () => all,
    line: async (match) => {
      const seen = lines.find(match)
      if (seen !== undefined) return seen
      return await new Promise<string>((resolve, reject) => {
        waiters.add({ match, resolve })
        void exited.then((code) => reject(new Error(`exited with ${String(code)} before the line was printed:\n${all}`)))
      })
    },
    stop: async () => {
      child.kill('SIGTERM')
      return await exited
    }
  }
}
