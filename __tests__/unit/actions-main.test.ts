import { describe, expect, it, jest } from '@jest/globals'

/** A stand-in for @actions/core: every input empty, every call recorded. */
function fakeCoreModule(inputs: Record<string, string>) {
  const calls: { setFailed: string[]; outputs: Record<string, string>; summaries: string[] } = {
    setFailed: [],
    outputs: {},
    summaries: []
  }
  let buffer = ''
  const mod = {
    getInput: (name: string) => inputs[name] ?? '',
    setOutput: (name: string, value: string) => {
      calls.outputs[name] = value
    },
    setSecret: () => undefined,
    setFailed: (message: string) => {
      calls.setFailed.push(message)
    },
    info: () => undefined,
    warning: () => undefined,
    debug: () => undefined,
    startGroup: () => undefined,
    endGroup: () => undefined,
    summary: {
      addRaw: (text: string) => {
        buffer += text
      },
      write: async () => {
        calls.summaries.push(buffer)
        buffer = ''
      }
    }
  }
  return { mod, calls }
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise(r => setTimeout(r, 5))
}

describe('the entry points', () => {
  it.each([
    [
      'deploy-stage-main',
      { site: 'v1', version: 'newest', stage: 'prepare' },
      "input 'version' is 'newest'; expected a PEP 440 version such as 1.4.0, 1.4.0rc1 or 1.4.0.post1"
    ],
    [
      'rollback-main',
      { site: '' },
      "input 'site' is empty; expected the name of a site in sitecycle.yml, such as v1"
    ]
  ])(
    '%s runs its action with @actions/core and passes the one failure message to setFailed',
    async (entry, inputs, message) => {
      const { mod, calls } = fakeCoreModule(inputs)
      await jest.isolateModulesAsync(async () => {
        jest.unstable_mockModule('@actions/core', () => mod)
        await import(`../../src/actions/${entry}.js`)
        await until(() => calls.setFailed.length > 0)
      })
      expect(calls.setFailed).toEqual([message])
      expect(calls.outputs).toEqual({ status: 'failed', 'rolled-back': 'false' })
      expect(calls.summaries).toHaveLength(1)
    }
  )
})
