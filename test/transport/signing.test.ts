import t from 'tap'
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { StandardRetryStrategy } from '@smithy/core/retry'
import type { AwsCredentialIdentity } from '@smithy/types'
import { FastTransport } from '../../src/transport/fast-transport.js'
import { createTable, makeClient, startDynalite } from '../helpers/dynamo.js'
import { expectedSignature, startSigV4Proxy } from '../helpers/sigv4-proxy.js'

// AWS's SigV4 test suite (aws-sig-v4-test-suite), checked so that the verifying proxy is known to be right.
const SUITE = { keyId: 'AKIDEXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', date: '20150830', region: 'us-east-1', service: 'service' }

t.test('the verifying proxy computes the signatures of AWS\'s SigV4 test suite', async (t) => {
  const headers = { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' }
  const auth = { keyId: SUITE.keyId, date: SUITE.date, region: SUITE.region, service: SUITE.service, signedHeaders: ['host', 'x-amz-date'], signature: '' }
  t.equal(expectedSignature({ method: 'GET', url: '/', headers }, Buffer.alloc(0), auth, SUITE.secret),
    '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31', 'get-vanilla')
  t.equal(expectedSignature({ method: 'POST', url: '/', headers }, Buffer.alloc(0), auth, SUITE.secret),
    '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b', 'post-vanilla')
})

async function setup (t: { teardown (fn: () => unknown): void }, extra: Parameters<typeof makeClient>[2] = {}): Promise<{ client: DynamoDBClient, transport: FastTransport, tableName: string, proxy: Awaited<ReturnType<typeof startSigV4Proxy>> }> {
  const dynamo = await startDynalite(t)
  const tableName = await createTable(makeClient(t, dynamo.endpoint), 'signing')
  const proxy = await startSigV4Proxy(t, dynamo.endpoint)
  const client = makeClient(t, proxy.endpoint, extra)
  const transport = new FastTransport(client)
  t.teardown(() => transport.close())
  return { client, transport, tableName, proxy }
}

t.test('a wrong secret is rejected alike on both transports, and not retried', async (t) => {
  const { client, transport, tableName, proxy } = await setup(t, { credentials: { accessKeyId: 'test', secretAccessKey: 'wrong' } })
  const input = { TableName: tableName, Key: { Sesion_Id: { S: 'a' } } }
  const viaSdk = await client.send(new GetItemCommand(input)).then(() => undefined, (err: unknown) => err as Error & Record<string, unknown>)
  const viaFast = await transport.send('GetItem', input).then(() => undefined, (err: unknown) => err as Error & Record<string, unknown>)
  for (const err of [viaSdk, viaFast]) {
    t.equal(err?.name, 'InvalidSignatureException')
    t.equal(err?.$fault, 'client')
    t.equal((err?.$metadata as { attempts?: number } | undefined)?.attempts, 1)
  }
  t.equal(proxy.rejected.signature, 2)
})

t.test('a clock 20 minutes slow: "Signature expired", the offset corrected from the Date header, one retry, on both transports', async (t) => {
  const { client, transport, tableName, proxy } = await setup(t)
  const input = { TableName: tableName, Key: { Sesion_Id: { S: 'a' } } }
  const slow = -20 * 60 * 1000
  client.config.systemClockOffset = slow
  const viaSdk = await client.send(new GetItemCommand(input))
  t.equal(viaSdk.$metadata.attempts, 2)
  t.ok(Math.abs(client.config.systemClockOffset) < 60_000, 'the SDK corrected the shared offset')
  client.config.systemClockOffset = slow
  const viaFast = await transport.send('GetItem', input)
  t.equal(viaFast.$metadata.attempts, 2)
  t.ok(Math.abs(client.config.systemClockOffset) < 60_000, 'the fast transport corrected the shared offset')
  t.equal(proxy.rejected.expired, 2)
})

t.test('short-lived credentials are refreshed through the client\'s provider, and each request signed with the current key', async (t) => {
  let issued = 0
  const provider = async (): Promise<AwsCredentialIdentity> => {
    issued++
    // Within the SDK's 5-minute refresh window: every call asks for a new identity.
    return { accessKeyId: `short-${issued}`, secretAccessKey: `secret-${issued}`, sessionToken: `token-${issued}`, expiration: new Date(Date.now() + 60_000) }
  }
  const { client, transport, tableName, proxy } = await setup(t, { credentials: provider })
  for (let i = 1; i <= 20; i++) proxy.allow(`short-${i}`, `secret-${i}`)
  const item = { Sesion_Id: { S: 'a' }, Expire_Session: { N: '100' } }
  await client.send(new PutItemCommand({ TableName: tableName, Item: item }))
  const before = issued
  for (let i = 0; i < 3; i++) await transport.send('GetItem', { TableName: tableName, Key: { Sesion_Id: { S: 'a' } } })
  t.equal(issued - before, 3, 'one identity a call')
  const fastKeys = proxy.keyIds.slice(-3)
  t.strictSame(fastKeys, [`short-${before + 1}`, `short-${before + 2}`, `short-${before + 3}`])
  t.strictSame(proxy.sessionTokens.slice(-3), [`token-${before + 1}`, `token-${before + 2}`, `token-${before + 3}`])
  t.strictSame(proxy.rejected, { signature: 0, unknownKey: 0, expired: 0, malformed: 0 })
})

t.test('the client\'s retry strategy, attempts and clock-skew setting are resolved once, and again when replaced', async (t) => {
  const { client, transport, tableName, proxy } = await setup(t)
  const input = { TableName: tableName, Key: { Sesion_Id: { S: 'a' } } }
  await transport.send('GetItem', input)

  let tokens = 0
  const strategy = new StandardRetryStrategy(async () => 5)
  const counting = Object.assign(Object.create(strategy) as StandardRetryStrategy, {
    acquireInitialRetryToken: async (scope: string) => { tokens++; return await strategy.acquireInitialRetryToken(scope) }
  })
  client.config.retryStrategy = async () => counting
  await transport.send('GetItem', input)
  await transport.send('GetItem', input)
  t.equal(tokens, 2, 'a replaced retry strategy provider is used from the next call on')

  // With the correction disabled the offset is neither used nor updated: a slow offset stays and does not matter.
  const slow = -20 * 60 * 1000
  client.config.systemClockOffset = slow
  const config = client.config as unknown as { disableClockSkewCorrection?: () => Promise<boolean> }
  config.disableClockSkewCorrection = async () => true
  const out = await transport.send('GetItem', input)
  t.equal(out.$metadata.attempts, 1, 'signed with the local clock')
  t.equal(client.config.systemClockOffset, slow, 'the offset is left alone')
  config.disableClockSkewCorrection = async () => false
  const corrected = await transport.send('GetItem', input)
  t.equal(corrected.$metadata.attempts, 2, 'the slow offset is used again, refused, corrected and retried')
  t.ok(Math.abs(client.config.systemClockOffset) < 60_000)
  t.equal(proxy.rejected.expired, 1)
})
