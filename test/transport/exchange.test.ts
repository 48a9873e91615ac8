import t from 'tap'
import http, { type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { exchange, type TransportTimeouts } from '../../src/transport/exchange.js'

/** An HTTP server on 127.0.0.1 answering each request with `answer`, and a pool to it. */
async function serve (t: { teardown (fn: () => unknown): void }, answer: (res: ServerResponse) => void): Promise<Pool> {
  const open = new Set<ServerResponse>()
  const server = http.createServer((req, res) => {
    open.add(res)
    res.on('close', () => open.delete(res))
    req.resume()
    req.on('end', () => answer(res))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 })
  t.teardown(async () => {
    for (const res of open) res.destroy()
    await pool.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return pool
}

const request = { path: '/', headers: { 'content-type': 'application/x-amz-json-1.0' }, body: '{}' }
const timeouts: TransportTimeouts = { connectionTimeoutMs: 1000, requestTimeoutMs: 5000, bodyTimeoutMs: 5000 }

interface Shape { name?: string, code?: string, status?: number | undefined }
const shape = (err: unknown): Shape => {
  const e = err as Error & { code?: string, $metadata?: { httpStatusCode?: number } }
  return { name: e.name, code: e.code, status: e.$metadata?.httpStatusCode }
}

t.test('regression: an informational response (103 Early Hints) neither stops the request timeout nor becomes the response', async (t) => {
  t.test('no final response: the request timeout, without the 103\'s metadata', async (t) => {
    const pool = await serve(t, (res) => { res.writeEarlyHints({ link: '</a>; rel=preload' }) })
    const limit = sleep(30_000, 'still waiting after 30 s', { ref: false })
    const outcome = await Promise.race([
      exchange(pool, request, { ...timeouts, requestTimeoutMs: 200, bodyTimeoutMs: 600_000 }, undefined).then(() => 'answered', shape),
      limit
    ])
    t.strictSame(outcome, { name: 'TimeoutError', code: 'ETIMEDOUT', status: undefined })
  })
  t.test('then a final response: its status, headers and body', async (t) => {
    const pool = await serve(t, (res) => {
      res.writeEarlyHints({ link: '</a>; rel=preload' })
      res.writeHead(200, { 'x-amzn-requestid': 'final' }).end('{"ok":true}')
    })
    const incoming = await exchange(pool, request, timeouts, undefined)
    t.equal(incoming.statusCode, 200)
    t.equal(incoming.headers['x-amzn-requestid'], 'final')
    t.equal(incoming.headers.link, undefined, 'the 103\'s headers are not the response\'s')
    t.equal(incoming.text, '{"ok":true}')
  })
})

t.test('the body is decoded whole: a UTF-8 character split across two chunks', async (t) => {
  const bytes = Buffer.from('{"S":"é€"}', 'utf8')
  const cut = bytes.indexOf(0xe2) + 1
  const pool = await serve(t, (res) => {
    res.writeHead(200, { 'content-length': String(bytes.length) })
    res.write(bytes.subarray(0, cut), () => { setImmediate(() => res.end(bytes.subarray(cut))) })
  })
  t.equal((await exchange(pool, request, timeouts, undefined)).text, '{"S":"é€"}')
})

t.test('response headers: lower-case names, a repeated one as an array', async (t) => {
  const pool = await serve(t, (res) => {
    res.setHeader('X-Amzn-RequestId', 'abc')
    res.setHeader('Set-Cookie', ['a=1', 'b=2'])
    res.end('{}')
  })
  const { headers } = await exchange(pool, request, timeouts, undefined)
  t.equal(headers['x-amzn-requestid'], 'abc')
  t.strictSame(headers['set-cookie'], ['a=1', 'b=2'])
})

t.test('an abort while the body is coming: an AbortError, and the request ended', async (t) => {
  let served: (res: ServerResponse) => void = () => {}
  const answered = new Promise<ServerResponse>((resolve) => { served = resolve })
  const pool = await serve(t, (res) => {
    res.writeHead(200, { 'x-amzn-requestid': 'r1' })
    res.write('{', () => served(res))
  })
  const controller = new AbortController()
  const call = exchange(pool, request, timeouts, controller.signal).then(() => undefined, (err: unknown) => err as Error)
  const res = await answered
  const closed = new Promise<void>((resolve) => { if (res.closed) resolve(); else res.on('close', () => resolve()) })
  controller.abort()
  t.equal((await call)?.name, 'AbortError')
  await closed
  t.pass('the server saw the request end')
})
