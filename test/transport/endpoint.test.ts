import t from 'tap'
import { DynamoDBClient, GetItemCommand, QueryCommand, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb'
import type { AwsCredentialIdentity } from '@smithy/types'
import { EndpointResolver } from '../../src/transport/endpoint.js'

const STOP = 'endpoint captured'

/** The endpoint URL the SDK itself resolves for a command, or its error message (nothing is sent). */
async function sdkEndpoint (config: DynamoDBClientConfig, command: GetItemCommand | QueryCommand): Promise<string> {
  const client = new DynamoDBClient(config)
  let url = ''
  client.middlewareStack.add((_next, context) => async () => {
    url = String((context as { endpointV2?: { url: URL } }).endpointV2?.url.href)
    throw new Error(STOP)
  }, { step: 'build', name: 'captureEndpoint' })
  try {
    await client.send(command as GetItemCommand)
  } catch (err) {
    if ((err as Error).message !== STOP) return `error: ${(err as Error).message}`
  } finally {
    client.destroy()
  }
  return url
}

async function fastEndpoint (config: DynamoDBClientConfig, operation: 'GetItem' | 'Query', table: string): Promise<string> {
  const client = new DynamoDBClient(config)
  try {
    const identity = await client.config.credentials()
    const resolved = await new EndpointResolver(client.config).resolve(operation, { TableName: table }, identity)
    return resolved.url.href
  } catch (err) {
    return `error: ${(err as Error).message}`
  } finally {
    client.destroy()
  }
}

const plain: AwsCredentialIdentity = { accessKeyId: 'k', secretAccessKey: 's' }
const withAccount: AwsCredentialIdentity = { ...plain, accountId: '123456789012' }

const CASES: Array<[string, DynamoDBClientConfig]> = []
for (const region of ['us-east-1', 'cn-north-1', 'us-gov-west-1']) {
  for (const credentials of [plain, withAccount]) {
    for (const accountIdEndpointMode of ['preferred', 'required', 'disabled'] as const) {
      for (const flags of [{}, { useFipsEndpoint: true }, { useDualstackEndpoint: true }]) {
        const label = `${region} ${credentials.accountId === undefined ? 'no account' : 'account'} ${accountIdEndpointMode} ${JSON.stringify(flags)}`
        CASES.push([label, { region, credentials, accountIdEndpointMode, ...flags }])
      }
    }
  }
}
CASES.push(['custom endpoint', { region: 'eu-west-1', credentials: withAccount, endpoint: 'http://127.0.0.1:8000/base' }])
CASES.push(['custom endpoint with FIPS', { region: 'eu-west-1', credentials: plain, endpoint: 'https://example.com', useFipsEndpoint: true }])

t.test('the fast transport resolves the endpoint the SDK resolves, or fails as it does', async (t) => {
  let accountEndpoints = 0
  for (const [label, config] of CASES) {
    const table = 'sessions'
    const expected = await sdkEndpoint(config, new GetItemCommand({ TableName: table, Key: { id: { S: 'a' } } }))
    t.equal(await fastEndpoint(config, 'GetItem', table), expected, `GetItem ${label}: ${expected}`)
    const expectedQuery = await sdkEndpoint(config, new QueryCommand({ TableName: table, IndexName: 'i' }))
    t.equal(await fastEndpoint(config, 'Query', table), expectedQuery, `Query ${label}`)
    if (expected.includes('123456789012.ddb.')) accountEndpoints++
  }
  t.ok(accountEndpoints > 0, 'account-ID endpoints were among the cases')
})

t.test('a refreshed identity with another account id resolves anew', async (t) => {
  const client = new DynamoDBClient({ region: 'us-east-1', credentials: plain, accountIdEndpointMode: 'preferred' })
  t.teardown(() => client.destroy())
  const resolver = new EndpointResolver(client.config)
  const first = await resolver.resolve('GetItem', { TableName: 't' }, { ...plain, accountId: '111111111111' })
  const second = await resolver.resolve('GetItem', { TableName: 't' }, { ...plain, accountId: '222222222222' })
  t.equal(first.url.hostname, '111111111111.ddb.us-east-1.amazonaws.com')
  t.equal(second.url.hostname, '222222222222.ddb.us-east-1.amazonaws.com')
  t.equal(second.signingRegion, 'us-east-1')
  t.equal(second.signingName, 'dynamodb')
})

t.test('a resolved endpoint is found again without an await, only for its identity, operation and table', async (t) => {
  const client = new DynamoDBClient({ region: 'us-east-1', credentials: plain, accountIdEndpointMode: 'preferred' })
  t.teardown(() => client.destroy())
  const resolver = new EndpointResolver(client.config)
  const one = { ...plain, accountId: '111111111111' }
  const two = { ...plain, accountId: '222222222222' }
  t.equal(resolver.cached('GetItem', { TableName: 't' }, one), undefined, 'nothing before the first resolution')
  const first = await resolver.resolve('GetItem', { TableName: 't' }, one)
  t.equal(resolver.cached('GetItem', { TableName: 't' }, one), first, 'the same endpoint, synchronously')
  t.equal(first.origin, first.url.origin)
  t.equal(resolver.cached('PutItem', { TableName: 't' }, one), undefined, 'another operation resolves on its own')
  t.equal(resolver.cached('GetItem', { TableName: 'u' }, one), undefined, 'another table resolves on its own')
  t.equal(resolver.cached('GetItem', { TableName: 't' }, two), undefined, 'another identity is never served the first one\'s endpoint')
  const second = await resolver.resolve('GetItem', { TableName: 't' }, two)
  t.equal(second.url.hostname, '222222222222.ddb.us-east-1.amazonaws.com')
  t.equal(resolver.cached('GetItem', { TableName: 't' }, two), second)
  t.equal(resolver.cached('GetItem', { TableName: 't' }, one), undefined, 'the previous identity\'s endpoints are dropped')
})
