import t from 'tap'
import type { ReaperLogger } from '../../src/reaper/pass.js'
import { ReaperCalls } from '../../src/reaper/calls.js'
import { readLease } from '../../src/reaper/lease.js'
import { FastTransport } from '../../src/transport/fast-transport.js'
import { releaseSender, useSender } from '../../src/transport/sender.js'
import { countCalls, createTable, makeClient, startDynalite } from '../helpers/dynamo.js'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { makeReaper, reaperOptions, seedRows, sessionId, tableIds } from '../helpers/reaper.js'
import { startSigV4Proxy } from '../helpers/sigv4-proxy.js'
import { until } from '../helpers/reliability.js'

const quiet: ReaperLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }

t.test('the reaper on the fast transport: a pass reaps, every page and delete signed right', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)
  const table = await createTable(admin)
  await seedRows(admin, table, Array.from({ length: 30 }, (_, i) => ({ id: sessionId(i), expiresAt: i < 20 ? 1000 : 4_000_000_000 })))
  const proxy = await startSigV4Proxy(t, dynamo.endpoint)
  const client = makeClient(t, proxy.endpoint)
  const calls = countCalls(client)
  const transport = new FastTransport(client)
  useSender(client, transport)
  t.teardown(async () => { releaseSender(client, transport); await transport.close() })
  const report = await makeReaper(t, client, table, {}, { log: quiet }).runOnce()
  t.equal(report.result, 'success')
  t.equal(report.deleted, 20)
  t.equal((await tableIds(admin, table)).filter((id) => id.startsWith('sess')).length, 10)
  t.strictSame(proxy.rejected, { signature: 0, unknownKey: 0, expired: 0, malformed: 0 })
  t.equal(calls.count(), 0, 'no client.send call')
  t.ok(proxy.keyIds.length >= 22, `${proxy.keyIds.length} signed calls (pages, lease writes, deletes)`)
})

t.test('the reaper on the fast transport: close() aborts a stalled delete, and the lease is freed', async (t) => {
  const dynamo = await startDynalite(t)
  const admin = makeClient(t, dynamo.endpoint)
  const table = await createTable(admin)
  await seedRows(admin, table, Array.from({ length: 5 }, (_, i) => ({ id: sessionId(i), expiresAt: 1000 })))
  const proxy = await startFaultProxy(t, dynamo.endpoint)
  proxy.inject({ kind: 'stall' }, { operations: ['DeleteItem'] })
  // No request timeout on this client: without the abort, close() would wait for ever.
  const client = makeClient(t, proxy.endpoint)
  const transport = new FastTransport(client)
  useSender(client, transport)
  t.teardown(async () => { releaseSender(client, transport); await transport.close() })
  const reaper = makeReaper(t, client, table, {}, { log: quiet })
  const running = reaper.runOnce()
  await until(() => proxy.seen.includes('DeleteItem'), 'the stalled delete')
  await reaper.close()
  const report = await running
  t.equal(report.result, 'success', 'stopped, not failed')
  t.equal(report.deleted, 0)
  t.equal((await readLease(new ReaperCalls(admin, undefined), reaperOptions(table)))?.untilMs, 0, 'the lease was still freed')
})
