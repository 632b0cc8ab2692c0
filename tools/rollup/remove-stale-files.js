// Rollup writes the files of a build and leaves the others: a chunk of an earlier build (its
// hash changed, or its modules moved) would stay in dist/ beside the new ones. After the write,
// this removes every .js file under the output directory that the build did not write, so the
// folder holds exactly this build (and scripts/check-dist.sh sees a stale chunk as deleted).
import { readdirSync, rmSync } from 'node:fs'
import path from 'node:path'

/** An output plugin removing the .js files under output.dir that this build did not write. */
export function removeStaleFiles() {
  return {
    name: 'remove-stale-files',
    writeBundle(options, bundle) {
      const dir = options.dir
      if (!dir) return
      for (const file of readdirSync(dir, { recursive: true })) {
        const name = file.split(path.sep).join('/')
        if (name.endsWith('.js') && !(name in bundle)) rmSync(path.join(dir, file))
      }
    }
  }
}
