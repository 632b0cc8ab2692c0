/**
 * `using: node24` actions run on Node 24, as on the runner. Documented behaviour imitated
 * (docs.github.com, "Metadata syntax for GitHub Actions" > runs for JavaScript actions:
 * `using: node24` "Used for Node.js v24"; the runner runs the action's main with that node).
 * The harness uses options.node, its own node or the node@24 npm package, whichever is Node
 * 24, and refuses the action when none is.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import {
  assertSucceeded,
  HarnessUnsupported,
  ScratchRepos,
  type HarnessOptions
} from '../../tools/harness/index.js'
import { nodeVersion, packagedNode } from '../../tools/harness/node-runtime.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

const ACTION = {
  'a/action.yml': `
name: reports its node
description: prints the node it runs on
runs:
  using: node24
  main: main.js
`,
  'a/main.js': `console.log('::notice::node ' + process.versions.node + (process.env.FAKE_NODE ? ' via ' + process.env.FAKE_NODE : ''))\n`
}

/** A fake node binary reporting `version`, running scripts with the real node. */
async function fakeNode(version: string): Promise<string> {
  const dir = await scratch.repo({
    node: `#!/bin/sh
if [ "$1" = -p ]; then echo ${version}; exit 0; fi
FAKE_NODE=${version} exec "${process.execPath}" "$@"
`
  })
  const file = path.join(dir, 'node')
  await fs.chmod(file, 0o755)
  return file
}

async function runAction(options: HarnessOptions) {
  const root = await scratch.repo(ACTION)
  return scratch.harness(options).runAction(path.join(root, 'a'))
}

const node24Here = [process.env.SITECYCLE_NODE24 ?? '', process.execPath, packagedNode()].some(
  b => existsSync(b) && nodeVersion(b)?.startsWith('24.')
)

describe('node24 actions', () => {
  it('run with the node that is Node 24 (options.node here)', async () => {
    const run = await runAction({ node: await fakeNode('24.9.0') })
    assertSucceeded(run)
    expect(run.annotations.map(a => a.message)).toContain(
      `node ${process.versions.node} via 24.9.0`
    )
  })

  it('are refused when no Node 24 is at hand, else run on it', async () => {
    const options = { node: await fakeNode('22.1.0') }
    if (node24Here) {
      const run = await runAction(options)
      assertSucceeded(run)
      expect(run.annotations.some(a => /^node 24\./.test(a.message))).toBe(true)
      return
    }
    const error = await runAction(options).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(HarnessUnsupported)
    expect(String(error)).toContain("a 'using: node24' action without Node 24")
    expect(String(error)).toContain('node@24')
  })
})
