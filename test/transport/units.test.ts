import t from 'tap'
import { Agent } from 'node:https'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { clockOffsetAfter } from '../../src/transport/clock-skew.js'
import { abortError, networkError } from '../../src/transport/network-errors.js'
import { chooseTransport } from '../../src/transport/select.js'
import { releaseSender, SdkSender, senderOf, useSender } from '../../src/transport/sender.js'

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' }

t.test('the clock offset follows the Date header as the SDK has it', async (t) => {
  const now = Date.now()
  const ahead = new Date(now + 3_600_000).toUTCString()
  const offset = clockOffsetAfter(ahead, false, 0, now)
  t.ok(offset > 3_590_000 && offset <= 3_600_000, `an hour ahead: ${offset}`)
  t.equal(clockOffsetAfter(ahead, true, 7, now), 7, 'a cached response (Age) says nothing')
  t.equal(clockOffsetAfter(undefined, false, 7, now), 7, 'no Date header')
  t.equal(clockOffsetAfter('not a date', false, 7, now), 7, 'an unreadable Date header')
  t.equal(clockOffsetAfter(ahead, false, 7, now - 1_000_000), 7, 'a response that took too long')
})

t.test('undici errors get the SDK handler\'s names and codes', async (t) => {
  const coded = (code: string): Error => Object.assign(new Error(code), { code })
  const shape = (err: Error): [string, unknown] => [err.name, (err as { code?: unknown }).code]
  t.strictSame(shape(networkError(coded('UND_ERR_CONNECT_TIMEOUT'), false)), ['TimeoutError', undefined])
  t.strictSame(shape(networkError(coded('UND_ERR_HEADERS_TIMEOUT'), false)), ['TimeoutError', 'ETIMEDOUT'])
  t.strictSame(shape(networkError(coded('UND_ERR_BODY_TIMEOUT'), false)), ['TimeoutError', undefined])
  t.strictSame(shape(networkError(coded('UND_ERR_SOCKET'), false)), ['TimeoutError', 'ECONNRESET'])
  t.strictSame(shape(networkError(coded('ECONNREFUSED'), false)), ['Error', 'ECONNREFUSED'], 'system errors pass as they are')
  t.strictSame(shape(networkError(coded('UND_ERR_SOCKET'), true)), ['AbortError', undefined], 'an aborted call is an abort')
  t.equal(networkError('text', false).message, 'text')
  t.equal(abortError().name, 'AbortError')
})

t.test('a client\'s sender: client.send() unless one is set, released only by its owner', async (t) => {
  const client = new DynamoDBClient({ region: 'us-east-1', credentials: CREDENTIALS })
  t.teardown(() => client.destroy())
  const stock = senderOf(client)
  t.ok(stock instanceof SdkSender)
  t.equal(senderOf(client), stock, 'one per client')
  const first = new SdkSender(client)
  const second = new SdkSender(client)
  useSender(client, first)
  useSender(client, second)
  releaseSender(client, first)
  t.equal(senderOf(client), second, 'a release by a replaced sender changes nothing')
  releaseSender(client, second)
  t.ok(senderOf(client) !== second)
})

t.test('auto keeps client.send() for endpoint discovery and for an agent of the application', async (t) => {
  const discovery = new DynamoDBClient({ region: 'us-east-1', credentials: CREDENTIALS, endpointDiscoveryEnabled: true })
  const agent = new Agent({ keepAlive: true, ca: 'not really a certificate' })
  const withAgent = new DynamoDBClient({ region: 'us-east-1', credentials: CREDENTIALS, requestHandler: { httpsAgent: agent } })
  t.teardown(() => { discovery.destroy(); withAgent.destroy(); agent.destroy() })
  t.strictSame(await chooseTransport(discovery, 'auto'), { transport: 'sdk', reason: 'endpoint discovery' })
  t.strictSame(await chooseTransport(withAgent, 'auto'), { transport: 'sdk', reason: 'a request handler with its own agent' })
})
