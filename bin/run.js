#!/usr/bin/env node
import {setFlagsFromString} from 'node:v8'

// Help, --version and the checks of a site dir that reach no host (config validate/generate) are
// over in a few hundred ms: V8's optimizing compiler only costs them CPU there (yaml's lexer, zod,
// nunjucks compiled for code that runs a few times; ~80 ms of 300 on 2 cores). Other commands keep
// it, as they may run for minutes. It cannot be turned back on once off, hence the choice by argv.
const QUICK = new Set(['help', '--help', '-h', '--version', 'config validate', 'config:validate', 'config generate', 'config:generate'])
const argv = process.argv.slice(2)
const words = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length)
if (words.some((a) => a === '--help' || a === '-h') || QUICK.has(words[0]) || QUICK.has(words.slice(0, 2).join(' '))) {
  setFlagsFromString('--max-opt=2')
}

// oclif checks its own engines.node with semver at every start (5-15 ms); osctl's package.json
// states the node it needs.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
// @oclif/core through dist/ so that it is the same (bundled) copy the commands extend.
const {execute} = await import('../dist/cli/oclif.js')

await execute({dir: import.meta.url})
