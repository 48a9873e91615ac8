// Helpers of the type tests. These files are compiled by `npm run typecheck` and never run (their names do not end
// in .test.ts). How they fail: a `// @ts-expect-error` line that no longer has an error is itself an error ("Unused
// '@ts-expect-error' directive"), and `expectType<Equal<A, B>>()` does not compile unless A and B are the same type.

/** True when A and B are the same type (not merely assignable to each other). */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false

/** Compiles only with `true`: `expectType<Equal<typeof x, string>>()`. */
export function expectType<T extends true> (): T | undefined { return undefined }
