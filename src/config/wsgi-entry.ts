/**
 * The application's entry point (`app.wsgi`): `module.path:attribute`, or a factory called with
 * Python literals, `module.path:factory(...)`. Parsed once into data, so that what is written
 * into a slot's WSGI script is rebuilt from checked tokens, never copied from the config.
 */

/** One argument of a factory call: a Python literal. */
export type PythonLiteral =
  | { kind: 'str'; value: string }
  | { kind: 'number'; text: string }
  | { kind: 'constant'; text: 'True' | 'False' | 'None' }

export interface WsgiEntry {
  /** Dotted module path, such as `pkg.app`. */
  module: string
  /** The attribute imported from it: the application, or the factory when `call` is set. */
  attribute: string
  /** Present for `module:factory(...)`: the arguments, in order. */
  call?: { args: PythonLiteral[]; kwargs: [string, PythonLiteral][] }
}

export const WSGI_ENTRY_FORM =
  "a WSGI entry point module.path:attribute, or module.path:factory(...) called with Python literals (strings, numbers, True, False, None; positional, then name=value), such as sample.wsgi:application or myapp:create_app('production')"

// https://docs.python.org/3/reference/lexical_analysis.html#keywords
const PYTHON_KEYWORDS = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(
    ' '
  )
)
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
const NUMBER = /^[+-]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/
const ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  r: '\r',
  t: '\t'
}

function identifierProblem(name: string, what: string): string | undefined {
  if (!IDENTIFIER.test(name)) return `${what} ${JSON.stringify(name)} is not a Python identifier`
  if (PYTHON_KEYWORDS.has(name)) return `${what} ${name} is a Python keyword`
  return undefined
}

type Token =
  { t: 'literal'; literal: PythonLiteral } | { t: 'name'; name: string } | { t: '=' | ',' }

/** Split the text between the parentheses into tokens, or say what is not allowed there. */
function tokenize(text: string): Token[] | { problem: string } {
  const tokens: Token[] = []
  let i = 0
  while (i < text.length) {
    const ch = text[i]
    if (ch === ' ' || ch === '\t') {
      i++
    } else if (ch === '=' || ch === ',') {
      tokens.push({ t: ch })
      i++
    } else if (ch === "'" || ch === '"') {
      let value = ''
      let j = i + 1
      for (;;) {
        if (j >= text.length)
          return { problem: `the string starting at ${text.slice(i)} is not closed` }
        const c = text[j]
        if (c === ch) break
        if (c === '\n' || c === '\r') return { problem: 'a string holds a line break' }
        if (c === '\\') {
          const e = ESCAPES[text[j + 1]]
          if (e === undefined)
            return {
              problem: `the escape \\${text[j + 1] ?? ''} is not one of \\\\ \\' \\" \\n \\r \\t`
            }
          value += e
          j += 2
        } else {
          value += c
          j++
        }
      }
      tokens.push({ t: 'literal', literal: { kind: 'str', value } })
      i = j + 1
    } else {
      const word = /^[^\s=,'"]+/.exec(text.slice(i))![0]
      if (NUMBER.test(word)) tokens.push({ t: 'literal', literal: { kind: 'number', text: word } })
      else if (word === 'True' || word === 'False' || word === 'None')
        tokens.push({ t: 'literal', literal: { kind: 'constant', text: word } })
      else if (IDENTIFIER.test(word)) tokens.push({ t: 'name', name: word })
      else return { problem: `${word} is not a Python literal` }
      i += word.length
    }
  }
  return tokens
}

function parseArguments(text: string): NonNullable<WsgiEntry['call']> | { problem: string } {
  const tokens = tokenize(text)
  if ('problem' in tokens) return tokens
  const call: NonNullable<WsgiEntry['call']> = { args: [], kwargs: [] }
  let i = 0
  while (i < tokens.length) {
    const tok = tokens[i]
    if (tok.t === 'name') {
      const bad = identifierProblem(tok.name, 'the argument name')
      if (bad) return { problem: bad }
      const value = tokens[i + 2]
      if (tokens[i + 1]?.t !== '=')
        return {
          problem: `${tok.name} is not a Python literal (only strings, numbers, True, False, None)`
        }
      if (value?.t !== 'literal')
        return { problem: `${tok.name}= is not followed by a Python literal` }
      if (call.kwargs.some(([n]) => n === tok.name))
        return { problem: `the argument ${tok.name} is given twice` }
      call.kwargs.push([tok.name, value.literal])
      i += 3
    } else if (tok.t === 'literal') {
      if (call.kwargs.length > 0)
        return { problem: 'a positional argument follows a keyword argument' }
      call.args.push(tok.literal)
      i += 1
    } else {
      return { problem: `unexpected ${tok.t}` }
    }
    if (i < tokens.length) {
      if (tokens[i].t !== ',') return { problem: 'arguments must be separated by commas' }
      i += 1
    }
  }
  return call
}

/** Parse `app.wsgi`, or say what is wrong with it (the reason; the form is WSGI_ENTRY_FORM). */
export function tryParseWsgiEntry(text: string): WsgiEntry | { problem: string } {
  const m = /^([^:()]+):([^:()]+?)(\((.*)\))?$/s.exec(text.trim())
  if (!m) return { problem: 'not module:attribute or module:factory(...)' }
  const [, module, attribute, parens, inner] = m
  for (const part of module.split('.')) {
    const bad = identifierProblem(part, 'the module name part')
    if (bad) return { problem: bad }
  }
  const bad = identifierProblem(attribute.trim(), 'the attribute')
  if (bad) return { problem: bad }
  if (parens === undefined) return { module, attribute: attribute.trim() }
  const call = parseArguments(inner)
  if ('problem' in call) return call
  return { module, attribute: attribute.trim(), call }
}

/** Parse an `app.wsgi` the config loader accepted; throws on one it would have refused. */
export function parseWsgiEntry(text: string): WsgiEntry {
  const entry = tryParseWsgiEntry(text)
  if ('problem' in entry) throw new Error(`app.wsgi ${JSON.stringify(text)}: ${entry.problem}`)
  return entry
}

/** A literal as Python source: strings through JSON's escapes (all of them valid in Python). */
export function pythonLiteral(literal: PythonLiteral): string {
  return literal.kind === 'str' ? JSON.stringify(literal.value) : literal.text
}

/**
 * The body of a Python function (indented four spaces) that imports the entry point and returns
 * the application: `from m import a as _entry` then `return _entry` or `return _entry(...)`.
 */
export function pythonImportLines(entry: WsgiEntry): string[] {
  const lines = [`    from ${entry.module} import ${entry.attribute} as _entry`]
  if (!entry.call) return [...lines, '    return _entry']
  const args = [
    ...entry.call.args.map(pythonLiteral),
    ...entry.call.kwargs.map(([name, value]) => `${name}=${pythonLiteral(value)}`)
  ]
  return [...lines, `    return _entry(${args.join(', ')})`]
}
