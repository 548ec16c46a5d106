import {createHash} from 'node:crypto'
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join, resolve} from 'node:path'
import {isScalar, parseDocument, visit} from 'yaml'

import {PACKAGE_ROOT, TEMPLATES_DIR} from '../paths.js'

/**
 * templates/ compiled ahead by `npm run build` (scripts/bundle.mjs): nunjucks' compiler is the
 * larger part of `config validate` (~40 ms cold for osctl's 30 templates); its output is a pure
 * function of a template's path, its text, nunjucks' version and the options, so it is kept by a
 * hash of those. A template edited since the build, or one from another templates dir, is simply
 * not found and compiled as before.
 */
export const TEMPLATE_CACHE_FILE = join(PACKAGE_ROOT, 'dist', 'templates.compiled.json')

interface CacheFile {
  compiler: string
  code: Record<string, string>
}

/** What the compiled code depends on besides path and text. */
function compilerId(options: object): string {
  const {version} = createRequire(import.meta.url)('nunjucks/package.json') as {version: string}
  return `nunjucks ${version} ${JSON.stringify(options)}`
}

export function cacheKey(src: string, path: string | undefined): string {
  return createHash('sha256').update(`${path ?? ''}\0${src}`).digest('base64url')
}

let loaded: Map<string, string> | null | undefined

/** The code compiled at build time for this key, if any (the file is read once per process). */
export function precompiled(key: string, options: object): string | undefined {
  if (loaded === undefined) loaded = readTemplateCache(TEMPLATE_CACHE_FILE, options)
  return loaded?.get(key)
}

/** A cache file's code by key; null when it is missing, unreadable, or from another compiler. */
export function readTemplateCache(file: string, options: object): Map<string, string> | null {
  try {
    const cache = JSON.parse(readFileSync(file, 'utf8')) as CacheFile
    return cache.compiler === compilerId(options) ? new Map(Object.entries(cache.code)) : null
  } catch {
    return null
  }
}

/**
 * Compiles every template file under templates/ (by the path nunjucks' FileSystemLoader gives it)
 * and every tagged string of the service.yml files (rendered by text alone) into TEMPLATE_CACHE_FILE.
 * Sources that do not compile are left out: compiling them at run time reports the error.
 */
export function writeTemplateCache(
  compile: (src: string, path: string | undefined) => string,
  options: object,
  {dir = TEMPLATES_DIR, file = TEMPLATE_CACHE_FILE}: {dir?: string; file?: string} = {},
): number {
  const sources: Array<[string, string | undefined]> = []
  for (const rel of readdirSync(dir, {recursive: true, encoding: 'utf8'})) {
    const path = resolve(dir, rel)
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      continue // a directory
    }
    if (!rel.endsWith('service.yml')) {
      sources.push([text, path])
      continue
    }
    visit(parseDocument(text), {
      Scalar: (_key, node) => {
        if (isScalar(node) && typeof node.value === 'string' && /\{[{%#]/.test(node.value)) sources.push([node.value, undefined])
      },
    })
  }
  const code: Record<string, string> = {}
  for (const [src, path] of sources) {
    try {
      code[cacheKey(src, path)] = compile(src, path)
    } catch {
      // reported when a command renders it
    }
  }
  writeFileSync(file, JSON.stringify({compiler: compilerId(options), code} satisfies CacheFile))
  return Object.keys(code).length
}
