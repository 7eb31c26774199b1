#!/usr/bin/env node
// The `peercompute` command as npm links it. Committed (not built) so that npm
// links it at install time, before `npm run build` has made dist/. Plain
// JavaScript that Node 18 and 20 parse: it checks the version before loading
// anything that needs a newer one.
const REQUIRED_MAJOR = 22
const major = Number(process.versions.node.split('.')[0])
if (!(major >= REQUIRED_MAJOR)) {
  console.error(
    `peercompute needs Node ${REQUIRED_MAJOR} or newer; this is Node ${process.versions.node} (npm ci puts Node 24 in node_modules/.bin: use npx peercompute or npm run)`,
  )
  process.exit(1)
}
import('../dist/node/cli/main.js').catch((err) => {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('main.js')) {
    console.error('peercompute: not built yet; run `npm run build` first')
  } else {
    console.error(`peercompute: ${err?.stack ?? err}`)
  }
  process.exit(1)
})
