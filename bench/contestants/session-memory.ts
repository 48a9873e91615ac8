import type { BuildApp } from './context.js'
import { buildFastifySession } from './fastify-session.js'

/** @fastify/session with its default in-memory store: what sessions cost with no database at all. */
export const build: BuildApp = async (app, ctx) => {
  const inner = buildFastifySession(() => undefined)
  await inner(app, ctx)
}
