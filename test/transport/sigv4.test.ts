import t from 'tap'
import fc from 'fast-check'
import { Sha256 } from '@smithy/core/checksum'
import { HttpRequest } from '@smithy/core/protocols'
import { SignatureV4 } from '@smithy/signature-v4'
import type { AwsCredentialIdentity } from '@smithy/types'
import { SigV4Signer, type SignableRequest, type SigV4SignerOptions } from '../../src/transport/sigv4.js'
import { assertProperty } from '../helpers/property.js'

// AWS's SigV4 test suite (aws-sig-v4-test-suite): its credentials, scope and date. The expected signatures below are
// the suite's published ones, as the AWS SDK for JavaScript v3 carries them in @aws-sdk/signature-v4's
// src/suite.fixture.ts. The suite predates x-amz-content-sha256, hence applyChecksum: false.
const SUITE = {
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  region: 'us-east-1',
  service: 'service',
  applyChecksum: false
}
const SUITE_DATE = Date.UTC(2015, 7, 30, 12, 36, 0)
const HOST = { host: 'example.amazonaws.com' }
const STS_TOKEN = 'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8Y' +
  'UuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXA' +
  'kiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=='

interface SuiteCase {
  name: string
  request: Partial<SignableRequest> & { headers?: Record<string, string> }
  sessionToken?: string
  signedHeaders: string
  signature: string
}

const SUITE_CASES: SuiteCase[] = [
  { name: 'get-vanilla', request: { method: 'GET' }, signedHeaders: 'host;x-amz-date', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'post-vanilla', request: {}, signedHeaders: 'host;x-amz-date', signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
  {
    name: 'post-header-key-case',
    request: { headers: { ...HOST, 'X-Amz-Date': '20150830T123600Z' } },
    signedHeaders: 'host;x-amz-date',
    signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'
  },
  {
    name: 'post-header-key-sort',
    request: { headers: { ...HOST, 'My-Header1': 'value1' } },
    signedHeaders: 'host;my-header1;x-amz-date',
    signature: 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c'
  },
  {
    name: 'post-header-value-case',
    request: { headers: { ...HOST, 'My-Header1': 'VALUE1' } },
    signedHeaders: 'host;my-header1;x-amz-date',
    signature: 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d'
  },
  {
    name: 'get-header-value-trim',
    request: { method: 'GET', headers: { ...HOST, 'My-Header1': ' value1 ', 'My-Header2': '"a   b   c"' } },
    signedHeaders: 'host;my-header1;my-header2;x-amz-date',
    signature: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736'
  },
  {
    name: 'get-header-value-order',
    request: { method: 'GET', headers: { ...HOST, 'My-Header1': 'value4,value1,value3,value2' } },
    signedHeaders: 'host;my-header1;x-amz-date',
    signature: '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01'
  },
  {
    name: 'get-unreserved',
    request: { method: 'GET', path: '/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz' },
    signedHeaders: 'host;x-amz-date',
    signature: '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f'
  },
  {
    name: 'get-utf8',
    request: { method: 'GET', path: '/\u1234' },
    signedHeaders: 'host;x-amz-date',
    signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85'
  },
  {
    name: 'post-x-www-form-urlencoded',
    request: { headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...HOST }, body: 'Param1=value1' },
    signedHeaders: 'content-type;host;x-amz-date',
    signature: 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a'
  },
  {
    name: 'post-sts-header-before (the session token from the credentials)',
    request: {},
    sessionToken: STS_TOKEN,
    signedHeaders: 'host;x-amz-date;x-amz-security-token',
    signature: '85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead'
  }
]

t.test('the signatures of AWS\'s SigV4 test suite', async (t) => {
  for (const { name, request, sessionToken, signedHeaders, signature } of SUITE_CASES) {
    const credentials = sessionToken === undefined ? SUITE.credentials : { ...SUITE.credentials, sessionToken }
    const signer = new SigV4Signer({ ...SUITE, credentials })
    const headers = signer.sign({ method: 'POST', path: '/', headers: HOST, body: '', ...request }, SUITE_DATE)
    const scope = 'AKIDEXAMPLE/20150830/us-east-1/service/aws4_request'
    t.equal(headers.authorization, `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`, name)
    t.equal(headers['x-amz-date'], '20150830T123600Z', `${name}: x-amz-date`)
    t.equal(headers['x-amz-security-token'], sessionToken, `${name}: x-amz-security-token`)
  }
})

/** What @smithy/signature-v4 returns for the same request, as the fast transport calls it. */
async function smithyHeaders (options: SigV4SignerOptions, request: SignableRequest, signingDateMs: number): Promise<Record<string, string>> {
  const signer = new SignatureV4({ ...options, sha256: Sha256 })
  const signed = await signer.sign(new HttpRequest({ hostname: 'localhost', ...request, headers: { ...request.headers } }), {
    signingDate: new Date(signingDateMs)
  })
  return signed.headers
}

function dynamoRequest (body: string): SignableRequest {
  return {
    method: 'POST',
    path: '/',
    headers: {
      host: 'dynamodb.eu-west-1.amazonaws.com',
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.GetItem',
      'content-length': String(Buffer.byteLength(body)),
      'amz-sdk-invocation-id': '8e0b0b8e-4c3a-4d3c-9a59-0d6a8d0f7d7a',
      'amz-sdk-request': 'attempt=1; max=3'
    },
    body
  }
}

t.test('a DynamoDB request: the headers @smithy/signature-v4 produces, x-amz-content-sha256 included', async (t) => {
  const options = { credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'token' }, region: 'eu-west-1', service: 'dynamodb' }
  const request = dynamoRequest('{"TableName":"sessions","Key":{"Sesion_Id":{"S":"é"}}}')
  const date = Date.UTC(2026, 11, 2, 7, 0, 0)
  const headers = new SigV4Signer(options).sign(request, date)
  t.strictSame(headers, await smithyHeaders(options, request, date))
  t.match(headers.authorization, /SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-content-sha256;/)
  t.strictSame(request.headers, dynamoRequest(request.body).headers, 'the request\'s own headers are left alone')
})

t.test('the signing key cache: one signer across midnight UTC signs each day with that day\'s key', async (t) => {
  const options = { credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' }, region: 'us-east-1', service: 'dynamodb' }
  const signer = new SigV4Signer(options)
  const request = dynamoRequest('{}')
  const midnight = Date.UTC(2026, 0, 1)
  const dates = [midnight - 1, midnight, midnight - 60_000, midnight + 86_400_000 + 5]
  const signatures = new Set<string>()
  for (const date of dates) {
    const headers = signer.sign(request, date)
    t.strictSame(headers, await smithyHeaders(options, request, date), new Date(date).toISOString())
    signatures.add(headers.authorization ?? '')
  }
  t.equal(signatures.size, dates.length)
  t.match(signer.sign(request, midnight - 1).authorization, /Credential=AKID\/20251231\//)
  t.match(signer.sign(request, midnight).authorization, /Credential=AKID\/20260101\//)
})

t.test('regression: credentials rotated in place (same object, new secret) are signed with the new secret\'s key the same day', async (t) => {
  const credentials = { accessKeyId: 'AKID1', secretAccessKey: 'first-secret', sessionToken: 'token-1' }
  const options = { credentials, region: 'us-east-1', service: 'dynamodb' }
  const signer = new SigV4Signer(options)
  const request = dynamoRequest('{}')
  const date = Date.UTC(2026, 11, 2, 7, 0, 0)
  t.strictSame(signer.sign(request, date), await smithyHeaders({ ...options, credentials: { ...credentials } }, request, date))
  Object.assign(credentials, { accessKeyId: 'AKID2', secretAccessKey: 'second-secret', sessionToken: 'token-2' })
  t.strictSame(signer.sign(request, date + 1000), await smithyHeaders({ ...options, credentials: { ...credentials } }, request, date + 1000))
})

t.test('a path with a query string, or not starting with \'/\', is a TypeError', async (t) => {
  const signer = new SigV4Signer({ credentials: SUITE.credentials, region: 'us-east-1', service: 'dynamodb' })
  t.throws(() => signer.sign({ ...dynamoRequest(''), path: '/?a=b' }, SUITE_DATE), TypeError)
  t.throws(() => signer.sign({ ...dynamoRequest(''), path: 'a' }, SUITE_DATE), TypeError)
  t.throws(() => new SigV4Signer({ credentials: {} as AwsCredentialIdentity, region: 'us-east-1', service: 'dynamodb' }), TypeError)
})

const headerName = fc.oneof(
  fc.constantFrom('host', 'Host', 'content-type', 'x-amz-target', 'content-length', 'amz-sdk-invocation-id', 'amz-sdk-request',
    'user-agent', 'User-Agent', 'x-amzn-trace-id', 'proxy-authorization', 'Proxy-Foo', 'sec-fetch-mode', 'cache-control', 'Expect',
    'authorization', 'Authorization', 'date', 'X-Amz-Date', 'x-amz-content-sha256', 'X-Amz-Content-Sha256', 'X-Amz-Security-Token', 'x-amz-user-agent'),
  fc.tuple(fc.constantFrom('x-amz-', 'X-Amz-Meta-', 'x-custom-', 'X-', ''), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,12}$/))
    .map(([prefix, rest]) => prefix + rest)
)
const headerValue = fc.oneof(
  fc.string({ unit: fc.constantFrom(' ', '\t', '\r', '\n', 'a', 'B', ',', '"', '=', ';', 'é') }),
  fc.string({ unit: 'grapheme', maxLength: 20 })
)
const pathSegment = fc.oneof(fc.constantFrom('.', '..', '', 'a b', '%41', "it's(*)!"), fc.string({ unit: 'grapheme', maxLength: 6 }))
const path = fc.oneof(
  fc.constantFrom('/', '/a b', '/a/./b/../c', '/\u1234', '//', '/a/', '/../x', '/a//b/'),
  fc.array(pathSegment, { maxLength: 5 }).map((segments) => `/${segments.join('/')}`)
).filter((p) => !p.includes('?'))
const credentials = fc.record({
  accessKeyId: fc.stringMatching(/^[A-Z0-9]{4,20}$/),
  secretAccessKey: fc.string({ unit: 'grapheme', maxLength: 40 }),
  sessionToken: fc.option(fc.string({ maxLength: 40 }), { nil: undefined })
}, { requiredKeys: ['accessKeyId', 'secretAccessKey'] })
const midnight = fc.integer({ min: Date.UTC(2000, 0, 1) / 86_400_000, max: Date.UTC(2100, 0, 1) / 86_400_000 }).map((day) => day * 86_400_000)
/** Calls to one signer: dates within an hour of a midnight UTC (the key cache), and paths (the path cache). */
const calls = fc.tuple(midnight, fc.array(fc.record({ offset: fc.integer({ min: -3_600_000, max: 3_600_000 }), path }), { minLength: 1, maxLength: 4 }))
  .map(([day, list]) => list.map(({ offset, path }) => ({ date: day + offset, path })))

t.test('property: the headers are exactly those of @smithy/signature-v4 for the same request, credentials and date', async () => {
  await assertProperty(fc.asyncProperty(
    fc.record({
      credentials,
      region: fc.constantFrom('us-east-1', 'eu-west-3', 'ap-southeast-2', 'local'),
      service: fc.constantFrom('dynamodb', 'service', 'execute-api'),
      uriEscapePath: fc.option(fc.boolean(), { nil: undefined }),
      applyChecksum: fc.option(fc.boolean(), { nil: undefined })
    }, { requiredKeys: ['credentials', 'region', 'service'] }),
    fc.record({
      method: fc.constantFrom('POST', 'GET', 'PUT'),
      headers: fc.dictionary(headerName, headerValue, { maxKeys: 10 }),
      body: fc.oneof(fc.string({ unit: 'binary' }), fc.json())
    }),
    calls,
    async (options, rest, signings) => {
      const signer = new SigV4Signer(options)
      for (const { date, path } of signings) {
        const request = { ...rest, path }
        const expected = await smithyHeaders(options, request, date)
        const actual = signer.sign(request, date)
        // Key order too: the same object smithy builds.
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          throw new Error(`differs from smithy at ${new Date(date).toISOString()}:\n${JSON.stringify(actual)}\n${JSON.stringify(expected)}`)
        }
      }
    }
  ), { numRuns: 300 })
})
