import * as dynamodb from '@aws-sdk/client-dynamodb'
import type { ResponseMetadata } from '@smithy/types'

/** The AWS JSON 1.0 protocol as DynamoDB speaks it: bodies in, outputs and exceptions out, in the SDK's shapes. */

export const CONTENT_TYPE = 'application/x-amz-json-1.0'

type Json = Record<string, unknown>

/** The request body: JSON with binary attribute values in base64, as the SDK's serializer writes them. */
export function serializeInput (input: object): string {
  return JSON.stringify(input, function (this: Json, key: string, value: unknown) {
    const raw = this[key]
    return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') : value
  })
}

function fromBase64 (text: unknown): Uint8Array {
  const buffer = Buffer.from(String(text), 'base64')
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

/** An attribute value with its binaries decoded, as the SDK's deserializer gives them. */
function decodeValue (value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  const av = value as Json
  if ('B' in av) return { B: fromBase64(av.B) }
  if ('BS' in av) return { BS: (av.BS as unknown[]).map(fromBase64) }
  if ('L' in av) return { L: (av.L as unknown[]).map(decodeValue) }
  if ('M' in av) return { M: decodeItem(av.M) }
  return av
}

function decodeItem (item: unknown): unknown {
  if (item === null || typeof item !== 'object') return item
  const out: Json = {}
  for (const [name, value] of Object.entries(item as Json)) out[name] = decodeValue(value)
  return out
}

const ITEM_MEMBERS = ['Item', 'Attributes', 'LastEvaluatedKey'] as const

/** Decodes the item-carrying members of an output or an error body in place. */
export function decodeItems (body: Json): Json {
  for (const member of ITEM_MEMBERS) if (body[member] !== undefined) body[member] = decodeItem(body[member])
  if (Array.isArray(body.Items)) body.Items = body.Items.map(decodeItem)
  return body
}

/** A response's metadata as the SDK records it (attempts and retry delay are the retry loop's to add). */
export function responseMetadata (status: number, headers: Record<string, string | string[] | undefined>): ResponseMetadata {
  const header = (name: string): string | undefined => {
    const value = headers[name]
    return Array.isArray(value) ? value[0] : value
  }
  return {
    httpStatusCode: status,
    requestId: header('x-amzn-requestid') ?? header('x-amzn-request-id') ?? header('x-amz-request-id'),
    extendedRequestId: header('x-amz-id-2'),
    cfId: header('x-amz-cf-id')
  }
}

/** The error code of a JSON-protocol error: the type header, else the body's `__type` or `code`, namespace stripped. */
export function errorCode (headers: Record<string, string | string[] | undefined>, body: Json): string | undefined {
  const sanitize = (raw: unknown): string | undefined => {
    if (typeof raw !== 'string' || raw === '') return undefined
    const beforeColon = raw.split(':')[0] ?? raw
    return beforeColon.includes('#') ? beforeColon.split('#')[1] : beforeColon
  }
  const header = headers['x-amzn-errortype']
  return sanitize(Array.isArray(header) ? header[0] : header) ?? sanitize(body.code) ?? sanitize(body.__type)
}

type ExceptionClass = new (options: Json & { message: string, $metadata: ResponseMetadata }) => dynamodb.DynamoDBServiceException

/** The exception classes @aws-sdk/client-dynamodb exports, by error name: `instanceof` holds on what we throw. */
const EXCEPTIONS: ReadonlyMap<string, ExceptionClass> = new Map(
  Object.entries(dynamodb)
    .filter(([name, value]) => typeof value === 'function' && name !== 'DynamoDBServiceException' &&
      (value as { prototype?: unknown }).prototype instanceof dynamodb.DynamoDBServiceException)
    .map(([name, value]) => [name, value as unknown as ExceptionClass])
)

/** A DynamoDB error response as the SDK would throw it: its exported class, `$fault`, `$metadata`, body members. */
export function serviceException (status: number, code: string | undefined, body: Json, $metadata: ResponseMetadata): Error {
  const message = String(body.message ?? body.Message ?? 'UnknownError')
  const Exception = code === undefined ? undefined : EXCEPTIONS.get(code)
  const members = decodeItems({ ...body })
  delete members.__type
  delete members.code
  delete members.message
  delete members.Message
  if (Exception !== undefined) return Object.assign(new Exception({ ...members, message, $metadata }), { message })
  return new dynamodb.DynamoDBServiceException({
    name: code ?? 'Unknown',
    $fault: status >= 500 ? 'server' : 'client',
    message,
    $metadata
  })
}
