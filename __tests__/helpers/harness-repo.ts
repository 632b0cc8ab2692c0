/**
 * This working tree as the harness's sitecycle repository: the end-to-end workflow tests check it
 * out (as it is) under the name SITECYCLE at the commit SITECYCLE_SHA.
 */
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The root of this working tree. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
/** Its reusable workflows. */
export const WORKFLOWS = path.join(REPO, '.github', 'workflows')
/** The repository name the workflows' runs see for sitecycle. */
export const SITECYCLE = 'sitecycle-org/sitecycle'
/** The commit checked out as sitecycle (this tree's HEAD). */
export const SITECYCLE_SHA = execFileSync('git', ['-C', REPO, 'rev-parse', 'HEAD'], {
  encoding: 'utf8'
}).trim()
