import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { CallbackSessionStore } from '../../src/adapter/callback-store.js'
import type { SessionRecord } from '../../src/store/json.js'

interface Teardown { teardown (fn: () => unknown): void }

export interface SentCommand { name: string, input: Record<string, unknown> }

/** Records the commands a client sends, with their inputs, by SDK middleware (the store's calls go through client.send). */
export function recordCommands (t: Teardown, client: DynamoDBClient): SentCommand[] {
  const seen: SentCommand[] = []
  const name = `recordCommands${Math.random()}`
  client.middlewareStack.add(
    (next, context) => async (args) => {
      seen.push({ name: String(context.commandName).replace(/Command$/, ''), input: args.input as Record<string, unknown> })
      return await next(args)
    },
    { step: 'initialize', name }
  )
  t.teardown(() => client.middlewareStack.remove(name))
  return seen
}

/** The names of the commands sent, in order. */
export const names = (seen: readonly SentCommand[]): string[] => seen.map((c) => c.name)

/** A callback store's methods as promises. */
export function promised (store: CallbackSessionStore): {
  get (id: string): Promise<SessionRecord | null | undefined>
  set (id: string, session: object): Promise<void>
  touch (id: string, session: object): Promise<void>
  destroy (id: string): Promise<void>
} {
  const done = (resolve: () => void, reject: (err: unknown) => void) => (err?: unknown): void => {
    if (err === null || err === undefined) resolve()
    else reject(err)
  }
  return {
    get: async (id) => await new Promise((resolve, reject) => {
      store.get(id, (err, session) => { if (err === null || err === undefined) resolve(session); else reject(err) })
    }),
    set: async (id, session) => { await new Promise<void>((resolve, reject) => { store.set(id, session, done(resolve, reject)) }) },
    touch: async (id, session) => { await new Promise<void>((resolve, reject) => { store.touch(id, session, done(resolve, reject)) }) },
    destroy: async (id) => { await new Promise<void>((resolve, reject) => { store.destroy(id, done(resolve, reject)) }) }
  }
}
