/**
 * `strategy.matrix` expanded as GitHub expands it: the product of the vectors in key order,
 * minus the combinations an `exclude` entry matches, then each `include` entry added to every
 * combination whose original values it does not change, or appended as a new combination.
 */
import { HarnessInvalid } from './errors.js'
import type { Json } from './expressions.js'

/** One combination: key → value. */
export type MatrixLeg = Record<string, Json>

function sameValue(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function matches(leg: MatrixLeg, pattern: Record<string, Json>): boolean {
  return Object.entries(pattern).every(([k, v]) => {
    const value = leg[k]
    if (v && typeof v === 'object' && !Array.isArray(v) && value && typeof value === 'object') {
      return matches(value as MatrixLeg, v as Record<string, Json>)
    }
    return sameValue(value, v)
  })
}

/** Expand an evaluated `matrix:` value into its combinations (in GitHub's order). */
export function expandMatrix(matrix: Json, where: string): MatrixLeg[] {
  if (!matrix || typeof matrix !== 'object' || Array.isArray(matrix)) {
    throw new HarnessInvalid(
      `${where}: the matrix must be a mapping, got ${JSON.stringify(matrix)}`
    )
  }
  const { include, exclude, ...vectors } = matrix as Record<string, Json>
  let legs: MatrixLeg[] = []
  const keys = Object.keys(vectors)
  if (keys.length > 0) {
    legs = [{}]
    for (const key of keys) {
      const values = vectors[key]
      if (!Array.isArray(values)) {
        throw new HarnessInvalid(`${where}: matrix vector '${key}' must be a list`)
      }
      if (values.length === 0) {
        throw new HarnessInvalid(`${where}: matrix vector '${key}' does not contain any values`)
      }
      legs = legs.flatMap(leg => values.map(v => ({ ...leg, [key]: v })))
    }
  }
  for (const pattern of asList(exclude, 'exclude', where)) {
    legs = legs.filter(leg => !matches(leg, pattern))
  }
  const originals = legs.map(leg => ({ ...leg }))
  const extended = legs.map(leg => ({ ...leg }))
  const added: MatrixLeg[] = []
  for (const entry of asList(include, 'include', where)) {
    let used = false
    extended.forEach((leg, i) => {
      const original = originals[i]
      const conflicts = Object.entries(entry).some(
        ([k, v]) => k in original && !sameValue(original[k], v)
      )
      if (!conflicts) {
        Object.assign(leg, entry)
        used = true
      }
    })
    if (!used) added.push({ ...entry })
  }
  const all = [...extended, ...added]
  if (all.length === 0) throw new HarnessInvalid(`${where}: the matrix has no combinations`)
  return all
}

function asList(value: Json | undefined, what: string, where: string): Record<string, Json>[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || value.some(v => !v || typeof v !== 'object' || Array.isArray(v))) {
    throw new HarnessInvalid(`${where}: matrix ${what} must be a list of mappings`)
  }
  return value as Record<string, Json>[]
}

/** The display suffix of a leg: `(a, b)` with its values in order. */
export function legLabel(leg: MatrixLeg): string {
  const values = Object.values(leg).map(v =>
    v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)
  )
  return `(${values.join(', ')})`
}
