// The hooks of tools/python-text-hook.mjs (registered there).
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { readHostProgram } from './rollup/text-import.js'

/** A compiled copy's host program is the source's: build/<anything>/src/host/x.py -> src/host/x.py. */
function sourceOf(path) {
  if (existsSync(path)) return path
  const m = /^(.*)\/build\/(?:[^/]+\/)+?(src\/host\/[^/]+\.py)$/.exec(path)
  return m && existsSync(`${m[1]}/${m[2]}`) ? `${m[1]}/${m[2]}` : path
}

export async function resolve(specifier, context, next) {
  if (!specifier.endsWith('.py') || !context.parentURL) return next(specifier, context)
  const path = sourceOf(fileURLToPath(new URL(specifier, context.parentURL)))
  return { url: pathToFileURL(path).href, format: 'module', shortCircuit: true }
}

export async function load(url, context, next) {
  if (!url.endsWith('.py')) return next(url, context)
  const text = readHostProgram(fileURLToPath(url))
  return {
    format: 'module',
    source: `export default ${JSON.stringify(text)}\n`,
    shortCircuit: true
  }
}
