// Host programs (src/host/*.py) imported as text: `import program from '../host/tree-sums.py'`
// gives the program's text, run on a host as `python3 -c <text> args...`. A program that shares
// functions with another takes them from a sibling module, on a line of its own:
//   from _switch_map import LiveSlotChanged, switch_map  # inlined
// That line is a real import (pyflakes and py_compile check the file as it is, and the file runs
// as it is with src/host on sys.path); here it is replaced by the module's text, so the program
// is one self-contained text on the host. The jest transform (tools/jest/text-transform.js)
// reads the programs the same way.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

const INLINED = /^from (_\w+) import [^\n#]+# inlined$/gm

/** The program's text with its `# inlined` imports replaced; `files` collects every file read. */
export function readHostProgram(file, files = []) {
  files.push(file)
  return readFileSync(file, 'utf8').replace(INLINED, (_, module) =>
    readHostProgram(join(dirname(file), `${module}.py`), files).trimEnd()
  )
}

/** The rollup plugin: a `.py` module is its program text as the default export. */
export function textImport() {
  return {
    name: 'text-import',
    load(id) {
      if (!id.endsWith('.py')) return null
      const files = []
      const text = readHostProgram(id, files)
      for (const f of files.slice(1)) this.addWatchFile(f)
      return { code: `export default ${JSON.stringify(text)}\n`, map: { mappings: '' } }
    }
  }
}
