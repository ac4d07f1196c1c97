// The floor under the memory section's figures: a bare Node process (same binary, same flags as the
// gateway) that holds exactly what the gateway's cache must hold to answer a hit, the API JSON text
// of each connection by its id, in one Map, and nothing else: no HTTP framework, no cache policy,
// no fingerprints, no metrics. What its RSS grows by is what those answers cost any Node process.
// Plain JavaScript, so that Node's TypeScript stripper (~16 MB resident) is not part of the floor.
//   POST /hold   body [[id, text], ...]   keeps each text
//   GET  /held   the number of texts held
// getBuiltinModule, as the gateway's own modules take node:http: an ESM import builds its facade, which loads undici (~13 MB of RSS).
const { createServer } = process.getBuiltinModule('node:http');

const held = new Map();
const port = Number(process.argv[2]);

/** A flat copy, as the gateway keeps its cached texts (src/support/flat-string.ts says why). */
const flatString = (s) => Buffer.from(s, 'utf16le').toString('utf16le');

createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/hold') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      for (const [id, text] of JSON.parse(body)) held.set(flatString(id), flatString(text));
      res.end();
    });
    return;
  }
  res.end(String(held.size));
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
