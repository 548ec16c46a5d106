#!/usr/bin/env node
// oclif checks its own engines.node with semver at every start (5-15 ms); osctl's package.json
// states the node it needs.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
// @oclif/core through dist/ so that it is the same (bundled) copy the commands extend.
const {execute} = await import('../dist/cli/oclif.js')

await execute({dir: import.meta.url})
