import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { until } from './reliability.js'

/** A moto server that verifies SigV4 signatures, with an IAM user allowed dynamodb:* and that user's access key. */
export interface VerifyingMoto {
  readonly endpoint: string
  readonly accessKeyId: string
  readonly secretAccessKey: string
}

interface Teardown { teardown (fn: () => unknown): void }

/** The setup calls moto answers without authentication: CreateUser, PutUserPolicy, CreateAccessKey. */
const SETUP_CALLS = 3
const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'dynamodb:*', Resource: '*' }] })
// moto routes a request by the service in its credential scope; these setup calls are not checked.
const UNCHECKED_AUTH = 'AWS4-HMAC-SHA256 Credential=AKIDSETUP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0'

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function iam (endpoint: string, params: Record<string, string>): Promise<string> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { authorization: UNCHECKED_AUTH, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...params, Version: '2010-05-08' }).toString()
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`moto IAM ${params.Action}: HTTP ${res.status} ${text}`)
  return text
}

function field (xml: string, name: string): string {
  const value = new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1]
  if (value === undefined) throw new Error(`no ${name} in moto's answer: ${xml}`)
  return value
}

/**
 * Starts moto (scripts/moto-server.py, as the moto suite does) on a free loopback port with
 * INITIAL_NO_AUTH_ACTION_COUNT: after the first SETUP_CALLS actions it checks every request's signature against the
 * keys it issued. The setup calls create the user, its policy and its key. Stopped (by its pid) at teardown.
 */
export async function startVerifyingMoto (t: Teardown): Promise<VerifyingMoto> {
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const script = join(import.meta.dirname, '..', '..', 'scripts', 'moto-server.py')
  const child = spawn('python3', [script, '127.0.0.1', String(port)], {
    env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: String(SETUP_CALLS) },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let log = ''
  child.stderr.on('data', (chunk: Buffer) => { log += chunk.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM')
    await exited
  })
  // moto-api is not an action: waiting for it spends none of the unauthenticated calls.
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`moto exited (is python3's moto installed? see scripts/test-moto.sh): ${log}`)
    return await fetch(`${endpoint}/moto-api/`).then((res) => res.ok, () => false)
  }, 'moto to answer', 120_000)
  await iam(endpoint, { Action: 'CreateUser', UserName: 'sessions' })
  await iam(endpoint, { Action: 'PutUserPolicy', UserName: 'sessions', PolicyName: 'dynamodb', PolicyDocument: POLICY })
  const key = await iam(endpoint, { Action: 'CreateAccessKey', UserName: 'sessions' })
  return { endpoint, accessKeyId: field(key, 'AccessKeyId'), secretAccessKey: field(key, 'SecretAccessKey') }
}
