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

/** The `sdk` transport: every call through `client.send()` and its middleware stack. */
export class SdkSender implements DynamoSender {
  readonly #client: DynamoDBClient

  constructor (client: DynamoDBClient) {
    this.#client = client
  }

  async send<Op extends FastOperation> (
    operation: Op,
    input: OperationInputs[Op],
    options: FastSendOptions = {}
  ): Promise<OperationOutputs[Op]> {
    const Command = COMMAND_CLASSES[operation] as unknown as new (input: OperationInputs[Op]) => CommandWithStack
    const command = new Command(input)
    const onAttemptError = options.onAttemptError
    if (onAttemptError !== undefined) {
      // Inside the retry loop (after retryMiddleware): sees each attempt's error.
      command.middlewareStack.add((next) => async (args) => {
        try {
          return await next(args)
        } catch (err) {
          onAttemptError(err)
          throw err
        }
      }, { step: 'finalizeRequest', priority: 'low', name: 'dynamoSessionAttempts' })
    }
    return await this.#client.send(command as never, { abortSignal: options.abortSignal }) as OperationOutputs[Op]
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
