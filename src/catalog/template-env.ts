import {createHash} from 'node:crypto'
import {join} from 'node:path'
import nunjucks from 'nunjucks'

import {fernetKey} from './fernet-key.js'
import {cacheKey, precompiled, readTemplateCache, writeTemplateCache} from './template-cache.js'

/** templates/_shared/ holds what several services include (it has no service.yml, so it is no service). */
export const SHARED_TEMPLATES = '_shared'

const OPTIONS = {autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: true} as const

type TemplateProps = Record<string, unknown>

/** nunjucks' own compiler (index.js exports it; @types/nunjucks does not declare it). */
const {compiler} = nunjucks as unknown as {compiler: {compile(src: string, asyncFilters: string[], extensions: unknown[], name: string, opts: object): string}}

/**
 * Compiled templates by path and source text. Compiling is a pure function of the two (and of
 * OPTIONS), so a template used for every host (and a string of service.yml repeated on every
 * host) is compiled once per process; any change to a file's text is a new entry. A source that
 * does not compile is never cached: nunjucks compiles it again and reports the error as before.
 */
const compiled = new Map<string, TemplateProps>()

function compile(src: string, path: string | undefined): TemplateProps | undefined {
  const key = `${path ?? ''}\0${src}`
  let props = compiled.get(key)
  if (props) return props
  try {
    // What nunjucks.Template#_compile does, unless `npm run build` compiled this text already.
    // eslint-disable-next-line no-new-func
    props = new Function(precompiled(cacheKey(src, path), OPTIONS) ?? compileSource(src, path))() as TemplateProps
  } catch {
    return undefined
  }
  compiled.set(key, props)
  return props
}

/** nunjucks' compiler output for a template (no extensions and no async filters here); throws on a syntax error. */
function compileSource(src: string, path: string | undefined): string {
  return compiler.compile(src, [], [], path ?? '', OPTIONS)
}

/** For `npm run build`: templates/ compiled ahead into dist/ (template-cache.ts); `dir` and `file` for tests. */
export function precompileTemplates(opts: {dir?: string; file?: string} = {}): number {
  return writeTemplateCache(compileSource, OPTIONS, opts)
}

/** A cache file precompileTemplates wrote, by cacheKey; null when it is not this compiler's. */
export function readPrecompiled(file: string): Map<string, string> | null {
  return readTemplateCache(file, OPTIONS)
}

/** Reads templates like FileSystemLoader (every time: a changed file is seen) and hands nunjucks the compiled code. */
class CompiledLoader extends nunjucks.FileSystemLoader {
  override getSource(name: string): nunjucks.LoaderSource {
    const info = super.getSource(name)
    const props = info && compile(info.src as string, info.path)
    // `{type: 'code'}` is nunjucks' own precompiled-template form (Template#init).
    return props ? ({...info, src: {type: 'code', obj: props}} as unknown as nunjucks.LoaderSource) : info
  }
}

const environments = new Map<string, nunjucks.Environment>()

/** The environment rendering one service's templates: its folder, then templates/_shared/. One per folder per process. */
export function templateEnvironment(dir: string): nunjucks.Environment {
  let env = environments.get(dir)
  if (env) return env
  const loader = new CompiledLoader([dir, join(dir, '..', SHARED_TEMPLATES)], {noCache: true})
  // A copy: nunjucks adds its defaults to the options object, which also names the precompiled cache.
  env = new nunjucks.Environment(loader, {...OPTIONS})
  env.addFilter('sha256', (s: unknown) => createHash('sha256').update(String(s)).digest('hex'))
  env.addFilter('fernet_key', fernetKey)
  environments.set(dir, env)
  return env
}

/** env.renderString, with the compiled string reused; text with no tag at all renders as itself. */
export function renderTemplateString(env: nunjucks.Environment, text: string, vars: object): string {
  if (!/\{[{%#]/.test(text)) return text
  const props = compile(text, undefined)
  return props ? new nunjucks.Template({type: 'code', obj: props} as unknown as string, env).render(vars) : env.renderString(text, vars)
}
