/**
 * The secrets the config names (`{{ secret.NAME }}`, `password_env`), carried as one JSON object
 * in `SITECYCLE_SECRETS` by a workflow (the deploy action's `config-secrets` input, and the CLI in
 * a workflow step's environment).
 */

/**
 * The secret a workflow's caller passes by name to carry the secrets the config names, as one
 * JSON object such as `{"DB_PASSWORD": "..."}`: `secrets: inherit` reaches a reusable workflow of
 * another owner empty, and a reusable workflow cannot declare names it does not know.
 */
export const BUNDLED_SECRETS = 'SITECYCLE_SECRETS'

/**
 * The `config-secrets` input: a JSON object of secret names to values, such as
 * `${{ toJSON(secrets) }}`; values that are not strings are left out. The value of
 * `SITECYCLE_SECRETS`, when it is itself a JSON object, is opened into its names; a name already
 * given on its own (such as an environment secret) keeps its own value. The value is never shown.
 */
export function parseConfigSecrets(text: string): Record<string, string> | undefined {
  const data = parseObject(text)
  if (data === undefined) return undefined
  const values: Record<string, string> = {}
  for (const [name, value] of Object.entries(data)) {
    if (name !== BUNDLED_SECRETS && typeof value === 'string' && value !== '') values[name] = value
  }
  const bundle = data[BUNDLED_SECRETS]
  if (typeof bundle === 'string' && bundle.trim() !== '') {
    const inner = parseObject(bundle)
    if (inner === undefined) return undefined
    for (const [name, value] of Object.entries(inner)) {
      if (typeof value === 'string' && value !== '' && !(name in values)) values[name] = value
    }
  }
  return values
}

function parseObject(text: string): Record<string, unknown> | undefined {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return undefined
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined
  return data as Record<string, unknown>
}

/**
 * The CLI's environment with `SITECYCLE_SECRETS` opened into its names: a name already set keeps
 * its own value. Returns the values added (for masking); nothing when the variable is unset or
 * not a JSON object of strings.
 */
export function openSecretsBundle(env: NodeJS.ProcessEnv): string[] {
  const text = env[BUNDLED_SECRETS]
  if (!text?.trim()) return []
  const values = parseConfigSecrets(JSON.stringify({ [BUNDLED_SECRETS]: text }))
  const added: string[] = []
  for (const [name, value] of Object.entries(values ?? {})) {
    if (env[name] !== undefined && env[name] !== '') continue
    env[name] = value
    added.push(value)
  }
  return added
}
