import { createRequire } from 'node:module'
import { benchClient, type BuildApp } from './context.js'
import { buildFastifySession } from './fastify-session.js'

const require = createRequire(import.meta.url)

/**
 * @fastify/session with connect-dynamodb as its store, configured with that store's documented options: a client
 * for the same endpoint, a table with the same key schema (`hashKey: 'Sesion_Id'`; created by the runner, so the
 * store's own DescribeTable check finds it), and its default `sess:` id prefix.
 */
export const build: BuildApp = async (app, ctx) => {
  const client = benchClient(ctx.endpoint)
  app.addHook('onClose', async () => client.destroy())
  const DynamoDBStore = require('connect-dynamodb')(require('@fastify/session'))
  const inner = buildFastifySession(() => new DynamoDBStore({ client, table: ctx.tableName, hashKey: 'Sesion_Id' }))
  await inner(app, ctx)
}
