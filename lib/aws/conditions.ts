/**
 * True when a DynamoDB conditional write lost its race (`ConditionalCheckFailedException`).
 * In a module of its own so every store can use it without bundling another store's code.
 */
export function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string }).name === 'ConditionalCheckFailedException';
}
