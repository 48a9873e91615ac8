import { randomBytes } from 'node:crypto'
import { Pool } from 'undici'
import { exchange, type Incoming, type TransportTimeouts } from '../../src/transport/exchange.js'
import type { BuildApp } from './context.js'

const COOKIE = /(?:^|;\s*)sid=([A-Za-z0-9_-]+)/
const TIMEOUTS: TransportTimeouts = { connectionTimeoutMs: 1000, requestTimeoutMs: 5000, bodyTimeoutMs: 5000 }
// A constant Authorization header: dynalite and the counting proxy do not check signatures, so none is computed.
const AUTHORIZATION = 'AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0'

/** Sends one operation's body; a status other than 200 is an error (the bench counts failed requests). */
function caller (pool: Pool, host: string): (operation: string, body: string) => Promise<Incoming> {
  return async (operation, body) => {
    const headers = {
      host,
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${operation}`,
      'content-length': String(Buffer.byteLength(body)),
      'x-amz-date': '20260101T000000Z',
      authorization: AUTHORIZATION
    }
    const response = await exchange(pool, { path: '/', headers, body }, TIMEOUTS, undefined)
    if (response.statusCode !== 200) throw new Error(`floor: ${operation} answered ${response.statusCode}`)
    return response
  }
}

/**
 * Not a usable client: the HTTP work every DynamoDB contestant shares and none can avoid. Each scenario sends the
 * same DynamoDB calls as the limit routes (same operations, items and units, the calls counted alike), but as
 * request bodies built by string concatenation, unsigned, with the response's status and bytes read and its JSON left
 * unparsed, through the fast transport's own undici exchange. Its app CPU per request is the least any transport
 * could cost on this machine: `floor / limit` bounds the ratio the plugin's routes can reach.
 */
export const build: BuildApp = async (app, ctx) => {
  const pool = new Pool(ctx.endpoint, { connections: 50 })
  app.addHook('onClose', async () => { await pool.close() })
  const table = JSON.stringify(ctx.tableName)
  const call = caller(pool, new URL(ctx.endpoint).host)
  const key = (id: string): string => `{"Sesion_Id":{"S":${JSON.stringify(id)}}}`
  const read = async (cookie: string | undefined): Promise<string | undefined> => {
    const id = COOKIE.exec(cookie ?? '')?.[1]
    if (id === undefined) return undefined
    const { text } = await call('GetItem', `{"TableName":${table},"Key":${key(id)},"ReturnConsumedCapacity":"TOTAL"}`)
    return text.includes('"Item"') ? id : undefined
  }

  app.get('/anon', async () => ({ ok: true }))

  app.get('/read', async (request, reply) => {
    if (await read(request.headers.cookie) === undefined) return await reply.code(401).send({ ok: false })
    return { ok: true }
  })

  app.post('/change', async (request, reply) => {
    const id = await read(request.headers.cookie)
    if (id === undefined) return await reply.code(401).send({ ok: false })
    const expires = Math.floor(Date.now() / 1000) + ctx.ttlSeconds
    await call('UpdateItem', `{"TableName":${table},"Key":${key(id)},"UpdateExpression":"ADD #d.#n :one SET #e = :e",` +
      '"ExpressionAttributeNames":{"#d":"Data","#n":"n","#e":"Expire_Session"},' +
      `"ExpressionAttributeValues":{":one":{"N":"1"},":e":{"N":"${expires}"}},"ReturnConsumedCapacity":"TOTAL"}`)
    return { ok: true }
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
