/**
 * What bin/run.js starts oclif with. A module of osctl's own so that `npm run build` bundles
 * @oclif/core once, shared with the commands (scripts/bundle.mjs), rather than load it from ~150 files.
 */
export {execute} from '@oclif/core'
