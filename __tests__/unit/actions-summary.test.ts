import { describe, expect, it } from '@jest/globals'
import {
  renderErrorSummary,
  renderOutcomeSummary,
  renderPlanSummary
} from '../../src/actions/summary.js'
import { OperationFailed, type OperationOutcome } from '../../src/pipelines/operation.js'
import { SecretFilter } from '../../src/util/reporter.js'

const SECRET = 'pa55-w0rd|<x>'
const noSecrets = (s: string) => s

function redactor(...secrets: string[]): (s: string) => string {
  const f = new SecretFilter()
  for (const s of secrets) f.add(s)
  return s => f.apply(s)
}

function deployed(): OperationOutcome {
  return {
    op: 'deploy',
    site: 'v1',
    host: 'ssh://deploy@web1.example.org:22',
    status: 'deployed',
    version: '1.4.0',
    previousVersion: '1.3.0',
    targetVersion: '1.4.0',
    url: 'https://sync.example.org',
    rolledBack: false,
    undoComplete: true,
    steps: [
      {
        name: 'preflight',
        title: 'check the host',
        status: 'ok',
        ms: 1234,
        note: 'Python 3.11.2, 900 MiB free'
      },
      { name: 'hooks', title: 'run hooks', status: 'skipped', ms: 0 },
      {
        name: 'switch',
        title: 'route users',
        status: 'ok',
        ms: 15,
        note: 'live slot blue -> green'
      }
    ],
    operationId: 'op-20240501-123000-abcd',
    notes: []
  }
}

function failedDeploy(): OperationOutcome {
  return {
    ...deployed(),
    status: 'rolled-back',
    version: '1.3.0',
    rolledBack: true,
    steps: [
      { name: 'preflight', title: 'check the host', status: 'ok', ms: 1000 },
      { name: 'switch', title: 'route users', status: 'undone', ms: 20 },
      {
        name: 'verify-live',
        title: 'verify',
        status: 'failed',
        ms: 5000,
        error: `HTTP 500 from /__version__: db password ${SECRET} refused`
      },
      { name: 'prune', title: 'prune', status: 'not-run', ms: 0 }
    ],
    error: `HTTP 500 from /__version__: db password ${SECRET} refused`,
    failedStep: 'verify-live'
  }
}

/** The rows of the markdown table that follows `heading` (header and separator excluded). */
function tableAfter(md: string, heading: string): string[][] {
  const lines = md.split('\n')
  const start = lines.indexOf(heading)
  expect(start).toBeGreaterThanOrEqual(0)
  const rows: string[] = []
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('|')) rows.push(line)
    else if (rows.length) break
  }
  return rows.slice(2).map(r =>
    r
      .slice(2, -2)
      .split(/(?<!\\)\|/)
      .map(c => c.trim())
  )
}

describe('renderOutcomeSummary', () => {
  it('shows a successful deploy: heading, versions, URL and one row per step with result and duration', () => {
    const md = renderOutcomeSummary(deployed(), noSecrets)
    expect(md.split('\n')[0]).toBe('## ✅ Deployed 1.4.0 to site v1')
    const details = Object.fromEntries(
      tableAfter(md, '## ✅ Deployed 1.4.0 to site v1').map(([k, v]) => [k, v])
    )
    expect(details).toMatchObject({
      '**Before**': '1.3.0',
      '**After**': '1.4.0',
      '**URL**': 'https://sync.example.org',
      '**Site**': 'v1 on ssh://deploy@web1.example.org:22',
      '**Status**': 'deployed'
    })
    expect(tableAfter(md, '### Steps')).toEqual([
      ['`preflight`', '✅ ok', '1.23 s', 'Python 3.11.2, 900 MiB free'],
      ['`hooks`', '⏭️ skipped', '', ''],
      ['`switch`', '✅ ok', '0.01 s', 'live slot blue -&gt; green']
    ])
    expect(md).not.toContain('### Error')
  })

  it('shows a failed deploy from OperationFailed: what serves again, the failed step and the error', () => {
    const failure = new OperationFailed(failedDeploy())
    const md = renderOutcomeSummary(failure.outcome, noSecrets)
    expect(md.split('\n')[0]).toBe(
      '## ❌ Deploy of 1.4.0 to site v1 failed: rolled back, 1.3.0 serves again'
    )
    const details = Object.fromEntries(tableAfter(md, md.split('\n')[0]))
    expect(details['**Before**']).toBe('1.3.0')
    expect(details['**After**']).toBe('1.3.0')
    expect(tableAfter(md, '### Steps').map(r => [r[0], r[1]])).toEqual([
      ['`preflight`', '✅ ok'],
      ['`switch`', '↩️ undone'],
      ['`verify-live`', '❌ failed'],
      ['`prune`', '➖ not run']
    ])
    expect(md).toContain('### Error at step verify-live\n\n```text\nHTTP 500 from /__version__')
    expect(md).not.toContain('Some undo steps failed')
  })

  it('never contains a registered secret, in the error or a step error, even one holding | and <', () => {
    const md = renderOutcomeSummary(failedDeploy(), redactor(SECRET))
    expect(md).not.toContain('pa55-w0rd')
    expect(md).not.toContain('pa55')
    expect(md).toContain('db password *** refused')
    // The step's error cell is redacted too.
    expect(tableAfter(md, '### Steps')[2][3]).toBe(
      'HTTP 500 from /__version__: db password *** refused'
    )
  })

  it('keeps a note with pipes, newlines and HTML inside its cell', () => {
    const o = deployed()
    o.steps[0].note = 'a | b\n<script>alert(1)</script>'
    const rows = tableAfter(renderOutcomeSummary(o, noSecrets), '### Steps')
    expect(rows).toHaveLength(3)
    expect(rows[0]).toEqual([
      '`preflight`',
      '✅ ok',
      '1.23 s',
      'a \\| b<br>&lt;script&gt;alert(1)&lt;/script&gt;'
    ])
  })

  it('warns when undo steps failed', () => {
    const o = {
      ...failedDeploy(),
      rolledBack: false,
      undoComplete: false,
      status: 'failed' as const
    }
    const md = renderOutcomeSummary(o, noSecrets)
    expect(md.split('\n')[0]).toBe('## ❌ Deploy of 1.4.0 to site v1 failed: 1.3.0 serves')
    expect(md).toContain('Some undo steps failed')
  })

  it('says when nothing changed, and heads a rollback as a rollback', () => {
    expect(
      renderOutcomeSummary({ ...deployed(), status: 'unchanged', steps: [] }, noSecrets)
    ).toMatch(/^## ✅ 1\.4\.0 was already live on site v1: nothing to do\n/)
    const rb: OperationOutcome = {
      ...deployed(),
      op: 'rollback',
      status: 'rolled-back',
      version: '1.3.0',
      previousVersion: '1.4.0',
      targetVersion: '1.3.0',
      rolledBack: true
    }
    expect(renderOutcomeSummary(rb, noSecrets).split('\n')[0]).toBe(
      '## ↩️ Rolled back site v1 from 1.4.0 to 1.3.0'
    )
  })

  it('fences an error holding backticks with a longer fence', () => {
    const o = { ...failedDeploy(), error: 'run ```sitecycle status``` now' }
    expect(renderOutcomeSummary(o, noSecrets)).toContain(
      '````text\nrun ```sitecycle status``` now\n````'
    )
  })
})

describe('renderErrorSummary and renderPlanSummary', () => {
  it('shows an early failure with the secret redacted', () => {
    const md = renderErrorSummary(
      'rollback',
      'v2',
      `cannot log in with ${SECRET}`,
      redactor(SECRET)
    )
    expect(md).toBe('## ❌ Rollback of site v2 failed\n\n```text\ncannot log in with ***\n```\n')
  })

  it('shows the plan of a dry run', () => {
    const md = renderPlanSummary(
      {
        site: 'v1',
        host: 'local',
        url: 'http://127.0.0.1:8080',
        release: { name: 'sample', version: '1.0.0', file: '/rel/sample-1.0.0.tar.gz' },
        plan: [' 1. preflight: check', ' 2. upload: copy (undo: yes)']
      },
      noSecrets
    )
    expect(md.split('\n')[0]).toBe(
      '## 📝 Plan: deploy sample 1.0.0 to site v1 (dry run, nothing changed)'
    )
    expect(md).toContain('```text\n 1. preflight: check\n 2. upload: copy (undo: yes)\n```')
    expect(Object.fromEntries(tableAfter(md, md.split('\n')[0]))['**Release file**']).toBe(
      '/rel/sample-1.0.0.tar.gz'
    )
  })
})
