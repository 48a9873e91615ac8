import {
  DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand, UpdateItemCommand,
  type DeleteItemCommandInput, type DeleteItemCommandOutput, type GetItemCommandInput, type GetItemCommandOutput,
  type PutItemCommandInput, type PutItemCommandOutput, type QueryCommandInput, type QueryCommandOutput,
  type ScanCommandInput, type ScanCommandOutput, type UpdateItemCommandInput, type UpdateItemCommandOutput
} from '@aws-sdk/client-dynamodb'
import type { EndpointParameterInstructions } from '@smithy/types'

/** The DynamoDB operations the fast transport sends: the request path's and the reaper's frequent ones. */
export const FAST_OPERATIONS = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan'] as const
export type FastOperation = typeof FAST_OPERATIONS[number]

export interface OperationInputs {
  GetItem: GetItemCommandInput
  PutItem: PutItemCommandInput
  UpdateItem: UpdateItemCommandInput
  DeleteItem: DeleteItemCommandInput
  Query: QueryCommandInput
  Scan: ScanCommandInput
}

export interface OperationOutputs {
  GetItem: GetItemCommandOutput
  PutItem: PutItemCommandOutput
  UpdateItem: UpdateItemCommandOutput
  DeleteItem: DeleteItemCommandOutput
  Query: QueryCommandOutput
  Scan: ScanCommandOutput
}

/** What the SDK's endpoint resolution reads from a command class: its endpoint parameter instructions. */
export interface EndpointInstructionsSupplier {
  getEndpointParameterInstructions (): EndpointParameterInstructions
}

/** Each operation's SDK command class: the source of its endpoint parameters (e.g. ResourceArn from TableName). */
export const COMMAND_CLASSES: Readonly<Record<FastOperation, EndpointInstructionsSupplier>> = {
  GetItem: GetItemCommand,
  PutItem: PutItemCommand,
  UpdateItem: UpdateItemCommand,
  DeleteItem: DeleteItemCommand,
  Query: QueryCommand,
  Scan: ScanCommand
} as unknown as Record<FastOperation, EndpointInstructionsSupplier>

/** The JSON protocol's X-Amz-Target of an operation. */
export function amzTarget (operation: FastOperation): string {
  return `DynamoDB_20120810.${operation}`
}
