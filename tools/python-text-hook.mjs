// Node loader hook: `import program from '../host/x.py'` gives the host program's text, as
// rollup's text-import plugin and the jest transform give it (tools/rollup/text-import.js), for
// TypeScript compiled by tsc and run by plain Node (npm run docs, the benchmarks). A program
// imported from a compiled copy under build/ is read from the sources (build/<dir>/src/host/x.py
// is src/host/x.py). Use it with: node --import ./tools/python-text-hook.mjs <script>
import { register } from 'node:module'

register(new URL('./python-text-loader.mjs', import.meta.url))
