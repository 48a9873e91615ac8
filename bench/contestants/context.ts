import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { FastifyInstance } from 'fastify'

/** What every contestant app gets: the counted DynamoDB endpoint and its own table. */
export interface AppContext {
  readonly endpoint: string
  readonly tableName: string
  readonly secret: string
  readonly ttlSeconds: number
}

/**
 * Every contestant adds the same four routes: GET /anon (does not use the session), GET /read (reads the session;
 * 401 without one), POST /change (changes the session; 401 without one), POST /login (creates a session).
 */
export type BuildApp = (app: FastifyInstance, ctx: AppContext) => Promise<void>

/** The data a login stores, the same for every contestant. */
export function loginData (n: number): { user: string, roles: string[], n: number } {
  return { user: `user-${n}`, roles: ['reader', 'writer'], n: 0 }
}

/** One client configuration for every contestant that talks to DynamoDB. */
export function benchClient (endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    maxAttempts: 3,
    requestHandler: { requestTimeout: 5000, connectionTimeout: 1000, throwOnRequestTimeout: true }
  })
}
