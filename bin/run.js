#!/usr/bin/env node
// oclif checks its own engines.node with semver at every start (5-15 ms); osctl's package.json
// states the node it needs.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
const {execute} = await import('@oclif/core')

await execute({dir: import.meta.url})
