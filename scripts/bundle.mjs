#!/usr/bin/env node
// Second half of `npm run build` (after tsc): replaces each command and hook in dist/ with an esbuild
// bundle, the code they share in dist/chunks/. A command then loads a few files instead of ~300
// (osctl's modules, zod, yaml, nunjucks), which is most of the CLI's start-up time (bench/cli-start.mjs).
// The layout oclif sees does not change (dist/commands/**, the hook's path, oclif.manifest.json), and a
// later plain `tsc` overwrites every entry with its unbundled form, which works the same, only slower.
// Lazily imported modules stay lazy (their own chunks); packages with native addons or that are only
// needed by commands reaching hosts stay in node_modules. Then templates/ is compiled ahead.
import {build} from 'esbuild'
import {readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

const fromDist = (p) => join(root, p.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'))
const commandsDir = fromDist(pjson.oclif.commands)
const entryPoints = [
  ...readdirSync(commandsDir, {recursive: true}).filter((f) => f.endsWith('.ts')).map((f) => join(commandsDir, f)),
  ...Object.values(pjson.oclif.hooks ?? {}).flat().map(fromDist),
  // bin/run.js starts oclif through this module: one copy of @oclif/core for it and the commands.
  join(root, 'src/cli/oclif.ts'),
]

// zod re-exports its ~60 locales (600 kB) as z.locales, bundled whole since z is one namespace object;
// osctl reports in English, which zod's schemas import by themselves (locales/en.js).
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({filter: /\/locales\/index\.js$/}, (args) =>
      /[/\\]node_modules[/\\]zod[/\\]/.test(args.importer) ? {path: 'zod-locales', namespace: 'osctl'} : undefined,
    )
    b.onLoad({filter: /^zod-locales$/, namespace: 'osctl'}, () => ({contents: 'export {}', loader: 'js'}))
  },
}

// dockerode loads its BuildKit session support (@grpc/grpc-js, @grpc/proto-loader: about half of
// dockerode's 270 ms load) at require time; only buildImage({version: '2'}) uses it, which osctl
// never asks for. Bundled, dockerode gets a stand-in that says so if it were ever called.
const dockerodeWithoutBuildkit = {
  name: 'dockerode-without-buildkit',
  setup(b) {
    b.onResolve({filter: /^\.\/session$/}, (args) => (/[/\\]node_modules[/\\]dockerode[/\\]lib$/.test(args.resolveDir) ? {path: 'dockerode-session', namespace: 'osctl'} : undefined))
    b.onLoad({filter: /^dockerode-session$/, namespace: 'osctl'}, () => ({
      contents: "module.exports = function withSession(_docker, _auth, callback) { callback(new Error('osctl bundles dockerode without BuildKit sessions (buildImage version 2)')) }",
      loader: 'js',
    }))
  },
}

rmSync(join(root, 'dist/chunks'), {recursive: true, force: true})
const result = await build({
  entryPoints,
  outbase: join(root, 'src'),
  outdir: join(root, 'dist'),
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  plugins: [zodEnglishOnly, dockerodeWithoutBuildkit],
  // Native addons (ssh2, cpu-features) and what only host-reaching commands import, lazily.
  // dockerode is bundled (into the lazily loaded chunk of what reaches hosts), see above.
  external: ['ssh2', 'execa', 'zx', 'typescript'],
  // Bundled CommonJS (yaml, nunjucks, @oclif/core) calls require() for node's own modules.
  banner: {js: "import {createRequire as __osctlRequire} from 'node:module'; const require = __osctlRequire(import.meta.url);"},
})
// BUNDLE_META=file.json: esbuild's metafile, to see what each chunk holds (https://esbuild.github.io/analyze/).
if (process.env.BUNDLE_META) writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile))
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'))
console.log(`bundled ${entryPoints.length} entries into ${outputs.length} files under ${relative(process.cwd(), join(root, 'dist'))}/`)

// templates/ compiled ahead (src/catalog/template-cache.ts), by the modules tsc has just emitted.
const {precompileTemplates} = await import('../dist/catalog/template-env.js')
console.log(`precompiled ${precompileTemplates()} templates and template strings into dist/templates.compiled.json`)
