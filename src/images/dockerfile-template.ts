import nunjucks from 'nunjucks'

import {OsctlError} from '../errors.js'
import {ImageVars, imageRef} from './image-vars.js'

export interface RenderInput {
  /** Absolute path of the Dockerfile.njk, used in error locations. */
  file: string
  source: string
  vars: ImageVars
  /** Image dirs that exist: image('x') for any other x is a typo, caught here rather than as a failed pull. */
  known: readonly string[]
}

/**
 * Renders one Dockerfile.njk. Autoescape is off (this is not HTML) and undefined values throw, so a
 * misspelt variable is an error naming file:line instead of an empty string in a RUN line.
 */
export function renderDockerfile(input: RenderInput): string {
  const env = new nunjucks.Environment(null, {autoescape: false, throwOnUndefined: true})
  env.addGlobal('image', (name: unknown) => {
    if (typeof name !== 'string' || !input.known.includes(name)) {
      // nunjucks keeps only the message of errors thrown here, so the message carries the name.
      throw new Error(`image('${String(name)}'): there is no image directory named ${String(name)}`)
    }
    return imageRef(input.vars, name)
  })
  try {
    return new nunjucks.Template(input.source, env, input.file, true).render({...input.vars})
  } catch (err) {
    throw templateError(input, err)
  }
}

function templateError(input: RenderInput, err: unknown): OsctlError {
  const raw = err instanceof Error ? err.message : String(err)
  const pos = /\[Line (\d+), Column (\d+)\]/.exec(raw)
  let line = pos ? Number(pos[1]) : undefined
  const wanted = /image\('([^']*)'\): there is no image/.exec(raw)?.[1]
  // For errors thrown inside a global nunjucks reports no position or a wrong one; find the call.
  if (wanted !== undefined) {
    const idx = input.source.split('\n').findIndex((l) => l.includes(`image('${wanted}')`) || l.includes(`image("${wanted}")`))
    if (idx >= 0) line = idx + 1
  }
  const location = line === undefined ? input.file : `${input.file}:${line}`
  if (wanted !== undefined) {
    return new OsctlError('CONFIG_INVALID', `image('${wanted}') names no image directory`, {
      location,
      hint: `known images: ${input.known.join(', ')}`,
      cause: err,
    })
  }
  const detail = raw.replace(/^\([^)]*\)\s*(\[Line \d+, Column \d+\])?\s*/, '').trim()
  if (/null or undefined value/.test(detail) && pos) {
    const expr = expressionAt(input.source, Number(pos[1]), Number(pos[2]))
    return new OsctlError('CONFIG_INVALID', `undefined variable in ${expr ?? 'an expression'}`, {
      location,
      hint: `variables: ${Object.keys(input.vars).join(', ')}; function: image('<name>')`,
      cause: err,
    })
  }
  return new OsctlError('CONFIG_INVALID', `template error: ${detail.replace(/^Error: /, '')}`, {location, cause: err})
}

/** The `{{ … }}` at (or nearest after) a 1-based line and column, to name the undefined variable. */
function expressionAt(source: string, line: number, column: number): string | undefined {
  const text = source.split('\n')[line - 1] ?? ''
  const exprs = [...text.matchAll(/\{\{.*?\}\}/g)].map((m) => ({text: m[0], start: m.index ?? 0}))
  const hit = exprs.find((e) => e.start + e.text.length >= column - 1) ?? exprs[0]
  return hit?.text
}
