import { randomBytes } from 'node:crypto'
import { GetItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { benchClient, loginData, type BuildApp } from './context.js'

const COOKIE = /(?:^|;\s*)sid=([A-Za-z0-9_-]+)/

/**
 * The baseline: the fewest raw DynamoDB calls each scenario needs, with no cookie signing, no session object and no
 * expiry handling. Reading is one eventually consistent GetItem for the id in an unsigned cookie; changing is that
 * read plus one UpdateItem; login is one PutItem.
 */
type SessionAttributes = Record<string, { S?: string, N?: string }>

/** One eventually consistent GetItem for the id in an unsigned cookie: the data map and the id. */
async function readSession (client: DynamoDBClient, tableName: string, cookie: string | undefined): Promise<SessionAttributes | undefined> {
  const id = COOKIE.exec(cookie ?? '')?.[1]
  if (id === undefined) return undefined
  const out = await client.send(new GetItemCommand({
    TableName: tableName, Key: { Sesion_Id: { S: id } }, ReturnConsumedCapacity: 'TOTAL'
  }))
  const data = out.Item?.Data?.M
  return data === undefined ? undefined : { id: { S: id }, ...data }
}

export const build: BuildApp = async (app, ctx) => {
  const client = benchClient(ctx.endpoint)
  app.addHook('onClose', async () => client.destroy())
  let logins = 0
  const read = async (cookie: string | undefined): Promise<SessionAttributes | undefined> =>
    await readSession(client, ctx.tableName, cookie)

  app.get('/anon', async () => ({ ok: true }))

  app.get('/read', async (request, reply) => {
    const data = await read(request.headers.cookie)
    if (data === undefined) return await reply.code(401).send({ ok: false })
    return { user: data.user?.S }
  })

  app.post('/change', async (request, reply) => {
    const data = await read(request.headers.cookie)
    if (data === undefined) return await reply.code(401).send({ ok: false })
    const n = Number(data.n?.N ?? 0) + 1
    await client.send(new UpdateItemCommand({
      TableName: ctx.tableName,
      Key: { Sesion_Id: { S: data.id?.S as string } },
      UpdateExpression: 'SET #d.#n = :n, #e = :e',
      ExpressionAttributeNames: { '#d': 'Data', '#n': 'n', '#e': 'Expire_Session' },
      ExpressionAttributeValues: { ':n': { N: String(n) }, ':e': { N: String(Math.floor(Date.now() / 1000) + ctx.ttlSeconds) } },
      ReturnConsumedCapacity: 'TOTAL'
    }))
    return { n }
  })

  app.post('/login', async (_request, reply) => {
    const id = randomBytes(24).toString('base64url')
    const now = Math.floor(Date.now() / 1000)
    const data = loginData(++logins)
    await client.send(new PutItemCommand({
      TableName: ctx.tableName,
      Item: {
        Sesion_Id: { S: id },
        Expire_Session: { N: String(now + ctx.ttlSeconds) },
        Created_At: { N: String(now) },
        Touched_At: { N: String(now) },
        Data: { M: { user: { S: data.user }, roles: { L: data.roles.map((r) => ({ S: r })) }, n: { N: String(data.n) } } }
      },
      ReturnConsumedCapacity: 'TOTAL'
    }))
    reply.header('set-cookie', `sid=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${ctx.ttlSeconds}`)
    return { ok: true }
  })
}
