// Node loader hook: lets `import data from './file.json'` work without `with { type: 'json' }`.
// @actions/workflow-parser imports its schemas that way (its bundler allowed it; plain Node does
// not). Use it with: node --import ./tools/json-import-hook.mjs <script>
import { register } from 'node:module'

register(
  'data:text/javascript,' +
    encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.json') && !context.importAttributes?.type) {
    return next(specifier, { ...context, importAttributes: { ...context.importAttributes, type: 'json' } })
  }
  return next(specifier, context)
}
export async function load(url, context, next) {
  if (url.endsWith('.json') && !context.importAttributes?.type) {
    return next(url, { ...context, importAttributes: { ...context.importAttributes, type: 'json' } })
  }
  return next(url, context)
}
`)
)
