// A real Bluesky network (PLC directory, PDS, AppView, Ozone) for humas's end-to-end tests.
//
// Unlike the package's own bin.js, this binds every service to 127.0.0.1, seeds no mock
// data, keeps the PDS's files in its own temporary folder (removed on exit) and shuts down
// cleanly on SIGTERM/SIGINT. It prints one JSON line starting with {"ready":true when the
// network answers; run.sh waits for that line.
//
// Environment: DB_POSTGRES_URL (required; the AppView, Bsync and Ozone keep their data in
// PostgreSQL schemas that are dropped and recreated at each start), BLUESKY_E2E_SCHEMA
// (default "humas"; letters and _ only), REDIS_HOST (asserted by TestNetwork, never used).
'use strict'

const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const PORTS = { plc: 2582, pds: 2583, appview: 2584, ozone: 2587 }
const HOST = '127.0.0.1'

// Every service calls listen(port) without a host, which binds all interfaces. Tests must
// not expose throwaway accounts to the machine's network, so a listen without a host is
// given 127.0.0.1 here, before any service module is loaded.
const originalListen = net.Server.prototype.listen
net.Server.prototype.listen = function listen(...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    const rest = args.slice(1)
    if (typeof rest[0] !== 'string') args = [args[0], HOST, ...rest]
  } else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host) {
    args = [{ ...args[0], host: HOST }, ...args.slice(1)]
  }
  return originalListen.apply(this, args)
}

// The PDS puts its SQLite files and blobs under os.tmpdir(); give it a folder of its own
// so that a stopped network leaves nothing behind.
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'humas-bsky-'))
process.env.TMPDIR = workDir
process.env.REDIS_HOST = process.env.REDIS_HOST || 'unused.invalid'

let network = null
let stopping = false

function cleanUp() {
  fs.rmSync(workDir, { recursive: true, force: true })
}

async function stop(signal) {
  if (stopping) return
  stopping = true
  // A network that does not close within 20 s is not worth waiting for: its state is
  // thrown away at the next start anyway.
  const force = setTimeout(() => {
    cleanUp()
    process.exit(1)
  }, 20000)
  force.unref()
  try {
    if (network) await network.close()
  } catch (err) {
    console.error(`error while stopping (${signal}):`, err)
  }
  cleanUp()
  console.log(JSON.stringify({ stopped: true, signal }))
  process.exit(0)
}

process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))

async function main() {
  const dbUrl = process.env.DB_POSTGRES_URL
  if (!dbUrl) throw new Error('DB_POSTGRES_URL is not set')
  const schema = process.env.BLUESKY_E2E_SCHEMA || 'humas'
  const started = Date.now()
  const { TestNetwork } = await import('@atproto/dev-env')
  network = await TestNetwork.create({
    dbPostgresUrl: dbUrl,
    dbPostgresSchema: schema,
    plc: { port: PORTS.plc },
    pds: { port: PORTS.pds, hostname: 'localhost' },
    bsky: { port: PORTS.appview, publicUrl: `http://${HOST}:${PORTS.appview}` },
    ozone: { port: PORTS.ozone },
  })
  if (stopping) return
  console.log(
    JSON.stringify({
      ready: true,
      pid: process.pid,
      plc: `http://${HOST}:${network.plc.port}`,
      pds: `http://${HOST}:${network.pds.port}`,
      appview: `http://${HOST}:${network.bsky.port}`,
      ozone: `http://${HOST}:${network.ozone.port}`,
      startup_ms: Date.now() - started,
    }),
  )
}

main().catch((err) => {
  console.error(err)
  cleanUp()
  process.exit(1)
})
