import t from 'tap'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { sendsToLoopback } from '../src/client.js'

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
