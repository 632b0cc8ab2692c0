// One TypeScript program for all the bundles of a rollup run. @rollup/plugin-typescript builds
// (type checks and emits) every file of the tsconfig for each build: twelve bundles, twelve
// whole programs. This wraps one plugin instance shared by the builds: the first build creates
// the program (its type errors fail the run, as noEmitOnError says) and the later builds load
// the files it emitted; the last build closes it. The emitted code is the same, so dist/ is too.
// In watch mode every hook goes straight to the plugin (it keeps its program there anyway).
import typescript from '@rollup/plugin-typescript'

/** A typescript plugin to pass, the same object, to each of `builds` rollup builds. */
export function typescriptOnce(options, builds) {
  const plugin = typescript(options)
  let started = false
  let ended = 0
  return {
    ...plugin,
    name: 'typescript-once',
    buildStart(rollupOptions) {
      if (this.meta.watchMode || !started) {
        started = true
        return plugin.buildStart.call(this, rollupOptions)
      }
    },
    buildEnd(error) {
      ended += 1
      if (this.meta.watchMode || error || ended === builds) return plugin.buildEnd.call(this, error)
    }
  }
}
