/** The AWS SDK's documented opt-out of its Node-support warning (`emitWarningIfUnsupportedVersion`). */
export const SDK_WARNING_VARIABLE = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'

/**
 * The SDK prints a 9-line warning on stderr when its first client is built on a Node it will stop supporting. The
 * CLI is a tool, not the user's application: it opts out in its own process only, before building any client, unless
 * the variable is already set. The library never sets it.
 */
export function quietSdkWarning (env: NodeJS.ProcessEnv = process.env): void {
  env[SDK_WARNING_VARIABLE] ??= 'true'
}
