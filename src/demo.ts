import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { buildClient } from './client.js'
import { startEmbeddedDynamo, type EmbeddedDynamo } from './embedded.js'
import { InvalidSecretError } from './errors.js'
import { originOf } from './metrics-server.js'
import {
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_ROUTE,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_TABLE_NAME,
  MIN_SECRET_LENGTH
} from './options.js'
import { dynamoSession } from './plugin.js'
import type { Session } from './session.js'
import type { JsonValue } from './store/json.js'
import { ensureSessionTable, type EnsureTableResult } from './store/table.js'

export const DEMO_PORT = 3000
export const DEMO_HOST = '127.0.0.1'
/** The metrics server's port (the Prometheus exporters' customary 9464), on loopback whatever the app's host. */
export const DEMO_METRICS_PORT = 9464
/** Longest user name the demo accepts. */
export const MAX_USERNAME_LENGTH = 64

export interface DemoOptions {
  /** Port to serve on; 0 picks a free one. Defaults to `3000`. */
  port?: number
  /** Address to serve on. Defaults to `'127.0.0.1'`. */
  host?: string
  /** Port of the metrics server, which listens on 127.0.0.1 whatever `host` is; 0 picks a free one. Defaults to `9464`. */
  metricsPort?: number
  /** Directory where the embedded dynalite persists its data. Defaults to none (in memory). */
  dataDir?: string
  /** Session table. Defaults to `'ManejoSesion'`. */
  tableName?: string
  /**
   * Environment: AWS_ENDPOINT_URL_DYNAMODB (use that endpoint instead of the embedded dynalite), AWS_REGION,
   * credentials, SESSION_SECRET. Defaults to `process.env`.
   */
  env?: NodeJS.ProcessEnv
}

export interface Demo {
  /** Where the demo app listens, e.g. `http://127.0.0.1:3000`. */
  readonly url: string
  /** The DynamoDB endpoint the sessions are stored at. */
  readonly endpoint: string
  readonly tableName: string
  /** True when the demo started its own dynalite. */
  readonly embedded: boolean
  /** True when no SESSION_SECRET was given: a random secret signs cookies for this run only. */
  readonly randomSecret: boolean
  /** What table setup found and did. */
  readonly table: EnsureTableResult
  /** Where the plugin serves its Prometheus metrics: a loopback server of their own, not the app's port. */
  readonly metricsUrl: string
  /** Stops the app, then the embedded dynalite. */
  close (): Promise<void>
}

/** The demo reads and writes its own keys whatever an application declared in `SessionData`. */
interface LooseSession {
  get (key: string): JsonValue | undefined
  set (key: string, value: JsonValue): void
}
const loose = (session: Session): LooseSession => session as unknown as LooseSession

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)
}

function secretFrom (env: NodeJS.ProcessEnv): { secret: string, random: boolean } {
  const given = env.SESSION_SECRET
  if (given === undefined || given === '') return { secret: randomBytes(32).toString('base64url'), random: true }
  if (given.length < MIN_SECRET_LENGTH) {
    throw new InvalidSecretError(`SESSION_SECRET has ${given.length} characters, at least ${MIN_SECRET_LENGTH} are required`)
  }
  return { secret: given, random: false }
}

function page (session: Session, visits: number, tableName: string, notice?: string): string {
  const user = loose(session).get('user')
  const who = typeof user === 'string'
    ? `<p>Logged in as <strong id="user">${escapeHtml(user)}</strong>.</p>
<form method="post" action="/logout"><button>Log out</button></form>`
    : `<p>Not logged in.</p>
<form method="post" action="/login"><label>User name <input name="username" maxlength="${MAX_USERNAME_LENGTH}" required></label>` +
      ' <button>Log in</button></form>'
  const noticeHtml = notice === undefined ? '' : `<p><strong>${escapeHtml(notice)}</strong></p>\n`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fastify-dynamo-session demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}code{background:#eee;padding:0 .2em}</style>
</head>
<body>
<h1>fastify-dynamo-session demo</h1>
${noticeHtml}<p>Visits in this session: <strong id="visits">${visits}</strong></p>
${who}
<p>Session <code>${escapeHtml(session.id.slice(0, 8))}…</code> in table <code>${escapeHtml(tableName)}</code>,
expires at <time>${session.expiresAt.toISOString()}</time> unless you come back. Logging in gives the session a new id;
logging out deletes its row.</p>
</body>
</html>
`
}

function sendPage (reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
    .send(html)
}

async function buildApp (client: DynamoDBClient, tableName: string, secret: string, metricsPort: number): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  // Just enough for the login form: a small urlencoded body turned into a plain object.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })
  // The safe way to serve metrics: not on the app's (public) port, but on a server of their own on loopback.
  await app.register(dynamoSession, { secret, client, tableName, metrics: { port: metricsPort, host: DEFAULT_METRICS_HOST } })

  app.get('/', async (request, reply) => {
    const session = loose(request.session)
    const before = session.get('visits')
    const visits = (typeof before === 'number' ? before : 0) + 1
    session.set('visits', visits)
    return sendPage(reply, 200, page(request.session, visits, tableName))
  })

  app.post<{ Body: { username?: unknown } | undefined }>('/login', async (request, reply) => {
    const raw = request.body?.username
    const username = typeof raw === 'string' ? raw.trim() : ''
    if (username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
      const visits = loose(request.session).get('visits')
      return sendPage(reply, 400, page(request.session, typeof visits === 'number' ? visits : 0, tableName,
        `Enter a user name of 1 to ${MAX_USERNAME_LENGTH} characters.`))
    }
    // A new id at login, so an id planted before login (session fixation) is worth nothing after it.
    await request.session.regenerate()
    loose(request.session).set('user', username)
    return reply.redirect('/', 303)
  })

  app.post('/logout', async (request, reply) => {
    await request.session.destroy()
    return reply.redirect('/', 303)
  })

  // Browsers ask for it on every page: answer without a session lookup.
  app.get('/favicon.ico', { config: { session: false } }, async (_request, reply) => reply.code(204).send())
  return app
}

/**
 * Starts the demo: the embedded dynalite (unless AWS_ENDPOINT_URL_DYNAMODB is set), the session table, and a small
 * app with a visit counter, login and logout.
 */
export async function startDemo (options: DemoOptions = {}): Promise<Demo> {
  const env = options.env ?? process.env
  const tableName = options.tableName ?? DEFAULT_TABLE_NAME
  const { secret, random } = secretFrom(env)
  const external = env.AWS_ENDPOINT_URL_DYNAMODB !== undefined && env.AWS_ENDPOINT_URL_DYNAMODB !== ''
  const cleanup: Array<() => Promise<void>> = []
  const close = async (): Promise<void> => {
    for (const step of cleanup.splice(0).reverse()) await step()
  }
  try {
    let dynamo: EmbeddedDynamo | undefined
    if (!external) {
      dynamo = await startEmbeddedDynamo({ port: 0, ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}) })
      cleanup.push(dynamo.close)
    }
    const target = buildClient({
      endpoint: dynamo?.endpoint ?? env.AWS_ENDPOINT_URL_DYNAMODB,
      requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      env
    })
    const client = target.client
    cleanup.push(async () => client.destroy())
    // dynalite cannot add an index to an existing table (a --data-dir table of an older version keeps what it has).
    const table = await ensureSessionTable(client, { tableName, addIndexToExistingTable: false })
    const app = await buildApp(client, tableName, secret, options.metricsPort ?? DEMO_METRICS_PORT)
    cleanup.push(async () => { await app.close() })
    await app.listen({ port: options.port ?? DEMO_PORT, host: options.host ?? DEMO_HOST })
    const url = originOf(app.server.address() as AddressInfo)
    return {
      url,
      endpoint: target.endpoint ?? '',
      tableName,
      embedded: dynamo !== undefined,
      randomSecret: random,
      table,
      // Set once the app is ready, which listen() made it.
      metricsUrl: originOf(app.sessionMetricsAddress as AddressInfo) + DEFAULT_METRICS_ROUTE,
      close
    }
  } catch (err) {
    await close()
    throw err
  }
}
