/**
 * The inputs of actions/deploy-stage (one stage of the composite actions/deploy): the stage, the
 * smoke test's command and the GitHub deployment prepare recorded, checked with the deploy's own
 * before anything is read or touched.
 */
import { describe, expect, it } from '@jest/globals'
import { readDeployStageSettings } from '../../src/actions/inputs.js'
import { SitecycleError } from '../../src/util/errors.js'
import { FakeCore } from '../helpers/fake-core.js'

function read(inputs: Record<string, string>) {
  return readDeployStageSettings(new FakeCore({ site: 'v1', ...inputs }))
}

function problems(inputs: Record<string, string>): string[] {
  try {
    read(inputs)
  } catch (e) {
    expect(e).toBeInstanceOf(SitecycleError)
    return (e as Error).message.split('\n')
  }
  throw new Error('no error')
}

describe('readDeployStageSettings', () => {
  it("reads the stage, the smoke test and the deployment id with the deploy's inputs", () => {
    expect(
      read({
        stage: 'smoke-test',
        'smoke-test': './tests/smoke.sh --quick',
        'deployment-id': '42',
        version: '1.4.0'
      })
    ).toMatchObject({
      site: 'v1',
      stage: 'smoke-test',
      smokeTest: './tests/smoke.sh --quick',
      deploymentId: 42,
      version: '1.4.0',
      dryRun: false
    })
    const undo = read({ stage: 'undo' })
    expect(undo.smokeTest).toBeUndefined()
    expect(undo.deploymentId).toBeUndefined()
  })

  it('names every bad input at once: an unknown stage, a smoke-test stage without a command, a deployment id that is not one, a bad version', () => {
    expect(problems({ stage: 'deploy', 'deployment-id': '12x', version: 'newest' })).toEqual([
      "input 'version' is 'newest'; expected a PEP 440 version such as 1.4.0, 1.4.0rc1 or 1.4.0.post1",
      "input 'stage' is 'deploy'; expected one of prepare, smoke-test, switch, finish, undo",
      "input 'deployment-id' is '12x'; expected the id of a GitHub deployment (the prepare step's output), or nothing"
    ])
    expect(problems({ stage: 'smoke-test' })).toEqual([
      "input 'smoke-test' is empty; expected the command to run against the idle slot, such as ./tests/smoke.sh"
    ])
  })
})
