import { randomBytes } from 'node:crypto'
import { Pool } from 'undici'
import { exchange, type TransportTimeouts } from '../../src/transport/exchange.js'
import { SigV4Signer } from '../../src/transport/sigv4.js'
import type { BuildApp } from './context.js'

const COOKIE = /(?:^|;\s*)sid=([A-Za-z0-9_-]+)/
const TIMEOUTS: TransportTimeouts = { connectionTimeoutMs: 1000, requestTimeoutMs: 5000, bodyTimeoutMs: 5000 }
type Json = Record<string, unknown>

/** Signs and sends one operation's body and parses the response; a status other than 200 is an error (counted). */
function caller (pool: Pool, host: string): (operation: string, body: string) => Promise<Json> {
  const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' }
  const signer = new SigV4Signer({ credentials, region: 'us-east-1', service: 'dynamodb' })
  return async (operation, body) => {
    const headers = signer.sign({
      method: 'POST',
      path: '/',
      headers: {
        host,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation}`,
        'content-length': String(Buffer.byteLength(body))
      },
      body
    }, Date.now())
    const response = await exchange(pool, { path: '/', headers, body }, TIMEOUTS, undefined)
    if (response.statusCode !== 200) throw new Error(`floor: ${operation} answered ${response.statusCode}`)
    return JSON.parse(response.text) as Json
  }
}

/**
 * Not a usable client: the work no DynamoDB client can skip. Each scenario sends the same DynamoDB calls as the limit
 * routes (same operations, expressions, items and units, counted alike by the proxy) as request bodies built by string
 * concatenation, signed (SigV4Signer, its key cached) and sent through the fast transport's undici exchange, each
 * response parsed with JSON.parse; nothing else: no retries, no error shapes, no clock skew, no endpoint resolution,
 * no session logic. Its app CPU per request is a lower bound for any transport on this machine, so `floor / limit`
 * bounds the ratio the plugin's routes can reach.
 */
export const build: BuildApp = async (app, ctx) => {
  const pool = new Pool(ctx.endpoint, { connections: 50 })
  app.addHook('onClose', async () => { await pool.close() })
  const table = JSON.stringify(ctx.tableName)
  const call = caller(pool, new URL(ctx.endpoint).host)
  const key = (id: string): string => `{"Sesion_Id":{"S":${JSON.stringify(id)}}}`
  const read = async (cookie: string | undefined): Promise<{ id: string, data: Json } | undefined> => {
    const id = COOKIE.exec(cookie ?? '')?.[1]
    if (id === undefined) return undefined
    const out = await call('GetItem', `{"TableName":${table},"Key":${key(id)},"ReturnConsumedCapacity":"TOTAL"}`)
    const data = ((out.Item as Json | undefined)?.Data as { M?: Json } | undefined)?.M
    return data === undefined ? undefined : { id, data }
  }

  app.get('/anon', async () => ({ ok: true }))

  app.get('/read', async (request, reply) => {
    const session = await read(request.headers.cookie)
    if (session === undefined) return await reply.code(401).send({ ok: false })
    return { user: (session.data.user as { S?: string } | undefined)?.S }
  })

  app.post('/change', async (request, reply) => {
    const session = await read(request.headers.cookie)
    if (session === undefined) return await reply.code(401).send({ ok: false })
    const n = Number((session.data.n as { N?: string } | undefined)?.N ?? 0) + 1
    const expires = Math.floor(Date.now() / 1000) + ctx.ttlSeconds
    await call('UpdateItem', `{"TableName":${table},"Key":${key(session.id)},"UpdateExpression":"SET #d.#n = :n, #e = :e",` +
      '"ExpressionAttributeNames":{"#d":"Data","#n":"n","#e":"Expire_Session"},' +
      `"ExpressionAttributeValues":{":n":{"N":"${n}"},":e":{"N":"${expires}"}},"ReturnConsumedCapacity":"TOTAL"}`)
    return { n }
  })

  let logins = 0
  app.post('/login', async (_request, reply) => {
    const id = randomBytes(24).toString('base64url')
    const now = Math.floor(Date.now() / 1000)
    const n = ++logins
    await call('PutItem', `{"TableName":${table},"Item":{"Sesion_Id":{"S":"${id}"},"Expire_Session":{"N":"${now + ctx.ttlSeconds}"},` +
      `"Created_At":{"N":"${now}"},"Touched_At":{"N":"${now}"},"Data":{"M":{"user":{"S":"user-${n}"},` +
      '"roles":{"L":[{"S":"reader"},{"S":"writer"}]},"n":{"N":"0"}}}},"ReturnConsumedCapacity":"TOTAL"}')
    reply.header('set-cookie', `sid=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${ctx.ttlSeconds}`)
    return { ok: true }
  })
}
