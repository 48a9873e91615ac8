import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { FastSendOptions } from './fast-transport.js'
import { COMMAND_CLASSES, type FastOperation, type OperationInputs, type OperationOutputs } from './operations.js'

/** What the store and the reaper send their frequent calls through: the SDK's `client.send()` or the fast transport. */
export interface DynamoSender {
  send<Op extends FastOperation> (operation: Op, input: OperationInputs[Op], options?: FastSendOptions): Promise<OperationOutputs[Op]>
}

type Middleware = (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>
interface StackOptions { step: 'finalizeRequest', priority: 'low', name: string }
interface CommandWithStack { middlewareStack: { add: (middleware: Middleware, options: StackOptions) => void } }

/** Each call's attempt observer, by the input object of its command (one fresh object per call). */
const attemptObservers = new WeakMap<object, (err: unknown) => void>()

/**
 * Inside the retry loop (after retryMiddleware): sees each attempt's error. It finds the call's observer through the
 * command's input rather than closing over it, because a client with `cacheMiddleware` keeps the handler it resolved
 * for the first command of each class and ignores later commands' own middleware.
 */
const observeAttempts: Middleware = (next) => async (args) => {
  try {
    return await next(args)
  } catch (err) {
    const input = (args as { input?: unknown }).input
    if (input !== null && typeof input === 'object') attemptObservers.get(input)?.(err)
    throw err
  }
}

/** Clients the library built (with `cacheMiddleware`), whose every FAST_OPERATIONS command goes through SdkSender. */
const ownClients = new WeakSet<DynamoDBClient>()

/**
 * Marks a client the library built and nothing else sends with: SdkSender may then let it reuse its cached handlers.
 * A client an application passed may have cached a handler without the attempt middleware: its calls stay uncached.
 */
export function ownClient (client: DynamoDBClient): DynamoDBClient {
  ownClients.add(client)
  return client
}

/** The `sdk` transport: every call through `client.send()` and its middleware stack. */
export class SdkSender implements DynamoSender {
  readonly #client: DynamoDBClient
  readonly #cached: boolean

  constructor (client: DynamoDBClient) {
    this.#client = client
    this.#cached = ownClients.has(client)
  }

  async send<Op extends FastOperation> (
    operation: Op,
    input: OperationInputs[Op],
    options: FastSendOptions = {}
  ): Promise<OperationOutputs[Op]> {
    const Command = COMMAND_CLASSES[operation] as unknown as new (input: OperationInputs[Op]) => CommandWithStack
    // A copy: the observer is found by this object, which no other call holds.
    const callInput = { ...input }
    const command = new Command(callInput)
    command.middlewareStack.add(observeAttempts, { step: 'finalizeRequest', priority: 'low', name: 'dynamoSessionAttempts' })
    if (options.onAttemptError !== undefined) attemptObservers.set(callInput, options.onAttemptError)
    // Any options argument makes the SDK resolve the middleware afresh (no cached handler).
    const sendOptions = this.#cached && options.abortSignal === undefined ? undefined : { abortSignal: options.abortSignal }
    return await this.#client.send(command as never, sendOptions as never) as OperationOutputs[Op]
  }
}

const senders = new WeakMap<DynamoDBClient, DynamoSender>()

/**
 * The sender of a client's store and reaper calls: the fast transport the plugin chose for it (useSender), else
 * `client.send()`. A client's transport is decided once, at registration, for everything the library sends with it.
 */
export function senderOf (client: DynamoDBClient): DynamoSender {
  let sender = senders.get(client)
  if (sender === undefined) {
    sender = new SdkSender(client)
    senders.set(client, sender)
  }
  return sender
}

export function useSender (client: DynamoDBClient, sender: DynamoSender): void {
  senders.set(client, sender)
}

/** Back to `client.send()`, unless another sender has been set for the client since. */
export function releaseSender (client: DynamoDBClient, sender: DynamoSender): void {
  if (senders.get(client) === sender) senders.delete(client)
}
