/**
 * A probe of one of the reusable workflows for the concurrency tests: the real workflow's
 * `workflow_call` inputs and `concurrency:`, and one job in the site's environment that marks
 * itself done in $MARK and outputs the marks it sees (`seen`). `name` tells the runs apart.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml, stringify as toYaml } from 'yaml'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

type Yaml = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** The real workflow's inputs and concurrency; one job in the site's environment. */
export async function concurrencyProbe(file: string): Promise<string> {
  const real = parseYaml(await fs.readFile(path.join(REPO, file), 'utf8')) as Yaml
  return toYaml({
    on: {
      workflow_call: {
        // `name` only tells the probe runs apart.
        inputs: { ...real.on.workflow_call.inputs, name: { type: 'string', default: '' } },
        outputs: { seen: { value: '${{ jobs.work.outputs.seen }}' } }
      }
    },
    permissions: {},
    concurrency: real.concurrency,
    jobs: {
      work: {
        'runs-on': 'ubuntu-24.04',
        environment: { name: '${{ inputs.site }}' },
        outputs: { seen: '${{ steps.work.outputs.seen }}' },
        steps: [
          {
            id: 'work',
            shell: 'bash',
            env: { NAME: '${{ inputs.name }}' },
            run: [
              'echo "$NAME running"',
              'touch "$MARK/done-$NAME"',
              'echo "seen=$(ls "$MARK" | grep done- | tr \'\\n\' \' \')" >> "$GITHUB_OUTPUT"'
            ].join('\n')
          }
        ]
      }
    }
  })
}
