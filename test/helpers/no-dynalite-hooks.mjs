// Module resolution hooks (see no-dynalite.mjs): dynalite, by name or by path, cannot be found.
export async function resolve (specifier, context, next) {
  if (specifier === 'dynalite' || specifier.includes('/node_modules/dynalite/')) {
    const err = new Error(`Cannot find package 'dynalite' imported from ${context.parentURL ?? '?'}`)
    err.code = 'ERR_MODULE_NOT_FOUND'
    throw err
  }
  return await next(specifier, context)
}
