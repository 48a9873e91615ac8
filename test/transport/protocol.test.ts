import t from 'tap'
import {
  ConditionalCheckFailedException, DynamoDBServiceException, InternalServerError, ProvisionedThroughputExceededException
} from '@aws-sdk/client-dynamodb'
import { decodeItems, errorCode, serializeInput, serviceException } from '../../src/transport/protocol.js'

const META = { httpStatusCode: 400, requestId: 'r1' }

t.test('a conflict carries the old item, its binaries decoded, in the SDK exception class', async (t) => {
  const body = {
    __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
    message: 'The conditional request failed',
    Item: { id: { S: 'a' }, blob: { B: Buffer.from([1, 2, 3]).toString('base64') }, nested: { L: [{ BS: ['AQ=='] }] } }
  }
  const err = serviceException(400, errorCode({}, body), body, META)
  t.ok(err instanceof ConditionalCheckFailedException)
  const e = err as ConditionalCheckFailedException
  t.equal(e.name, 'ConditionalCheckFailedException')
  t.equal(e.$fault, 'client')
  t.equal(e.message, 'The conditional request failed')
  t.strictSame(e.$metadata, META)
  t.strictSame(e.Item, { id: { S: 'a' }, blob: { B: new Uint8Array([1, 2, 3]) }, nested: { L: [{ BS: [new Uint8Array([1])] }] } })
})

t.test('throttling keeps its ThrottlingReasons; server errors their fault', async (t) => {
  const reasons = [{ reason: 'TableWriteProvisionedThroughputExceeded', resource: 'arn:aws:dynamodb:us-east-1:1:table/t' }]
  const body = { __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'slow down', ThrottlingReasons: reasons }
  const throttled = serviceException(400, errorCode({}, body), body, META) as ProvisionedThroughputExceededException
  t.ok(throttled instanceof ProvisionedThroughputExceededException)
  t.strictSame(throttled.ThrottlingReasons, reasons)
  const server = serviceException(500, 'InternalServerError', { message: 'boom' }, { httpStatusCode: 500 })
  t.ok(server instanceof InternalServerError)
  t.equal((server as InternalServerError).$fault, 'server')
})

t.test('an unknown or missing error type is a DynamoDBServiceException named as the SDK names it', async (t) => {
  const unknown = serviceException(503, errorCode({ 'x-amzn-errortype': 'SomethingNew:http://x' }, {}), {}, { httpStatusCode: 503 })
  t.ok(unknown instanceof DynamoDBServiceException)
  t.equal(unknown.name, 'SomethingNew')
  t.equal((unknown as DynamoDBServiceException).$fault, 'server')
  const bare = serviceException(502, errorCode({}, {}), {}, { httpStatusCode: 502 })
  t.equal(bare.name, 'Unknown')
})

t.test('binary values go out in base64 and come back as bytes', async (t) => {
  const bytes = Buffer.from([0, 255, 7])
  t.equal(serializeInput({ Item: { b: { B: bytes }, s: { BS: [new Uint8Array([1])] } } }), '{"Item":{"b":{"B":"AP8H"},"s":{"BS":["AQ=="]}}}')
  t.strictSame(decodeItems({ Items: [{ b: { B: 'AP8H' } }], LastEvaluatedKey: { k: { M: { b: { B: 'AQ==' } } } } }), {
    Items: [{ b: { B: new Uint8Array([0, 255, 7]) } }],
    LastEvaluatedKey: { k: { M: { b: { B: new Uint8Array([1]) } } } }
  })
})
