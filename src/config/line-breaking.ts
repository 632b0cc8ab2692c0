/** What keeps a value from being written as one line (of a config file, of an environment). */
const LINE_BREAKING: [RegExp, string][] = [
  [/\n/, 'a newline'],
  [/\r/, 'a carriage return'],
  [/\0/, 'a NUL character'],
  // The control characters themselves are what this looks for.
  // eslint-disable-next-line no-control-regex
  [/[\x01-\x08\x0b-\x1f\x7f\x85\u2028\u2029]/, 'a control character or line separator']
]

/**
 * What in `value` cannot be written as part of one line of an INI-style config file (a newline,
 * CR, NUL, another control character or a Unicode line separator), or undefined when nothing.
 * A tab is allowed.
 */
export function lineBreaking(value: string): string | undefined {
  return LINE_BREAKING.find(([re]) => re.test(value))?.[1]
}
