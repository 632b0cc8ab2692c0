/**
 * Scratch repositories for the harness's own tests: a repository root written from a map of
 * files under one temp dir, harnesses made on them, and one cleanup for all of it.
 */
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Harness } from './harness.js'
import type { HarnessOptions, Trigger, WorkflowRun } from './model.js'

export class ScratchRepos {
  private dir: string | undefined
  private count = 0
  private readonly harnesses: Harness[] = []

  /** A repository root holding these files (path → content); returns its path. */
  async repo(files: Record<string, string>): Promise<string> {
    this.dir ??= await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-harness-scratch-'))
    const root = path.join(this.dir, `repo-${++this.count}`)
    for (const [name, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(root, name)), { recursive: true })
      await fs.writeFile(path.join(root, name), content)
    }
    return root
  }

  /** A harness cleaned up with the scratch repositories. */
  harness(options: HarnessOptions = {}): Harness {
    const h = new Harness(options)
    this.harnesses.push(h)
    return h
  }

  /** Run `.github/workflows/w.yml` of a repository made of `files`. */
  async run(
    files: Record<string, string>,
    trigger: Trigger = {},
    options: HarnessOptions = {}
  ): Promise<WorkflowRun> {
    const root = await this.repo(files)
    return this.harness({ repository: { root }, ...options }).runWorkflow(
      path.join(root, '.github/workflows/w.yml'),
      trigger
    )
  }

  async cleanup(): Promise<void> {
    for (const h of this.harnesses) await h.cleanup()
    if (this.dir) await fs.rm(this.dir, { recursive: true, force: true })
  }
}
