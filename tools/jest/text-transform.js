// Jest transform for host programs (src/host/*.py): the module is the program's text, read as
// rollup's text-import plugin reads it (its `# inlined` imports replaced), so tests run the very
// text the bundles carry. The cache key covers every file the text is made of.
import { createHash } from 'node:crypto'
import { readHostProgram } from '../rollup/text-import.js'

export default {
  process(_source, path) {
    return { code: `export default ${JSON.stringify(readHostProgram(path))}\n` }
  },
  getCacheKey(_source, path) {
    return createHash('sha256')
      .update('text-transform 1\0')
      .update(readHostProgram(path))
      .digest('hex')
  }
}
