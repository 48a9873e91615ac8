import t from 'tap'
import fc from 'fast-check'
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { resolveOptions } from '../../src/options.js'
import { DynamoStore } from '../../src/store/dynamo-store.js'
import type { JsonValue } from '../../src/store/json.js'
import { FastTransport } from '../../src/transport/fast-transport.js'
import { releaseSender, useSender } from '../../src/transport/sender.js'
import { createTable, makeClient, startDynalite } from '../helpers/dynamo.js'
import { assertProperty } from '../helpers/property.js'
import { startSigV4Proxy } from '../helpers/sigv4-proxy.js'

const SECRET = 'a-test-secret-that-is-long-enough-0123456789'
const NOW = 1_800_000_000

type Step =
  | { kind: 'create', id: string, data: Record<string, JsonValue>, ttl: number }
  | { kind: 'load', id: string, consistent: boolean }
  | { kind: 'update', id: string, now: number, ttl: number, changes: Array<[string, JsonValue | undefined]>, createMap: boolean }
  | { kind: 'delete', id: string }
  | { kind: 'supersede', id: string, now: number }

const id = fc.constantFrom('sid-a', 'sid-b', 'sid-c')
const json: fc.Arbitrary<JsonValue> = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.constantFrom('p', 'q'), fc.string({ maxLength: 3 }), { maxKeys: 2 }))
const key = fc.constantFrom('user', 'cart', 'n', 'weird key.$')
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), id, data: fc.dictionary(key, json, { maxKeys: 3 }), ttl: fc.integer({ min: -20, max: 300 }) }),
  fc.record({ kind: fc.constant('load' as const), id, consistent: fc.boolean() }),
  fc.record({
    kind: fc.constant('update' as const),
    id,
    now: fc.integer({ min: NOW - 10, max: NOW + 400 }),
    ttl: fc.integer({ min: 1, max: 300 }),
    changes: fc.array(fc.tuple(key, fc.option(json, { nil: undefined })), { maxLength: 3 }),
    createMap: fc.boolean()
  }),
  fc.record({ kind: fc.constant('delete' as const), id }),
  fc.record({ kind: fc.constant('supersede' as const), id, now: fc.integer({ min: NOW - 10, max: NOW + 400 }) })
)

/** What a store call gave: its result, or its error's name. */
async function outcome (run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await run() ?? null }
  } catch (err) {
    return { error: (err as Error).name }
  }
}

async function apply (store: DynamoStore, s: Step): Promise<unknown> {
  switch (s.kind) {
    case 'create': return await outcome(async () => await store.create({ id: s.id, data: s.data, nowSec: NOW, createdAt: NOW, expiresAt: NOW + s.ttl }))
    case 'load': return await outcome(async () => await store.load(s.id, s.consistent))
    case 'update': return await outcome(async () => await store.update(s.id, s.now, s.now + s.ttl, new Map(s.changes), s.createMap))
    case 'delete': return await outcome(async () => await store.delete(s.id))
    case 'supersede': return await outcome(async () => await store.supersede(s.id, s.now, 60))
  }
}

async function rows (client: DynamoDBClient, tableName: string): Promise<unknown> {
  const out = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }))
  return (out.Items ?? []).sort((a, b) => String(a.Sesion_Id?.S).localeCompare(String(b.Sesion_Id?.S)))
}

t.test('the store gives the same results and leaves the same rows on either transport', async (t) => {
  const dynamo = await startDynalite(t)
  const proxy = await startSigV4Proxy(t, dynamo.endpoint)
  const sdkClient = makeClient(t, proxy.endpoint)
  const fastClient = makeClient(t, proxy.endpoint)
  const transport = new FastTransport(fastClient)
  useSender(fastClient, transport)
  t.teardown(async () => { releaseSender(fastClient, transport); await transport.close() })
  const sdkTable = await createTable(sdkClient, 'store_sdk')
  const fastTable = await createTable(sdkClient, 'store_fast')
  const sdkStore = new DynamoStore(sdkClient, resolveOptions({ secret: SECRET, tableName: sdkTable }), () => NOW * 1000)
  const fastStore = new DynamoStore(fastClient, resolveOptions({ secret: SECRET, tableName: fastTable }), () => NOW * 1000)
  await assertProperty(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps) => {
    for (const s of steps) t.strictSame(await apply(fastStore, s), await apply(sdkStore, s), s.kind)
    t.strictSame(await rows(sdkClient, fastTable), await rows(sdkClient, sdkTable), 'the same rows')
  }), { numRuns: 20 })
  t.strictSame(proxy.rejected, { signature: 0, unknownKey: 0, expired: 0, malformed: 0 })
})
