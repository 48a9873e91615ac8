import t from 'tap'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { LOCAL_ACCESS_KEY_ID, buildClient, sendsToLoopback } from '../src/client.js'

const clientFor = (endpoint?: string): DynamoDBClient => {
  const client = new DynamoDBClient({ region: 'us-east-1', ...(endpoint !== undefined ? { endpoint } : {}) })
  t.teardown(() => client.destroy())
  return client
}

t.test('sendsToLoopback: the configured endpoint, else the one from the environment', async (t) => {
  t.equal(await sendsToLoopback(clientFor('http://127.0.0.1:8000'), {}), true)
  t.equal(await sendsToLoopback(clientFor('http://localhost:8000'), {}), true)
  t.equal(await sendsToLoopback(clientFor('http://[::1]:8000'), {}), true)
  t.equal(await sendsToLoopback(clientFor('https://dynamodb.eu-west-1.amazonaws.com'), {}), false)
  t.equal(await sendsToLoopback(clientFor('http://10.0.0.7:8000'), {}), false)
  t.equal(await sendsToLoopback(clientFor('http://10.0.0.7:8000'), { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000' }), false,
    'a configured endpoint wins over the environment')
  t.equal(await sendsToLoopback(clientFor(), {}), false, 'AWS itself')
  t.equal(await sendsToLoopback(clientFor(), { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000' }), true)
  t.equal(await sendsToLoopback(clientFor(), { AWS_ENDPOINT_URL: 'http://localhost:4566' }), true)
  t.equal(await sendsToLoopback(clientFor(), { AWS_ENDPOINT_URL_DYNAMODB: '', AWS_ENDPOINT_URL: 'http://192.0.2.1' }), false)
})

t.test('regression: a loopback endpoint gets dummy credentials only when the environment names none (AWS_PROFILE kept)', async (t) => {
  const keyOf = async (env: NodeJS.ProcessEnv): Promise<string | undefined> => {
    const { client } = buildClient({ endpoint: 'http://127.0.0.1:8000', requestTimeoutMs: 1000, env })
    t.teardown(() => client.destroy())
    return await client.config.credentials().then((c) => c.accessKeyId, () => undefined)
  }
  t.equal(await keyOf({}), LOCAL_ACCESS_KEY_ID)
  t.not(await keyOf({ AWS_PROFILE: 'fastify-dynamo-session-test-profile' }), LOCAL_ACCESS_KEY_ID, 'the profile, not the dummy key')
  t.equal(await keyOf({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' }), 'AKIDEXAMPLE')
})
