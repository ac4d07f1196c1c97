// node:http, for the gateway's own modules. `import ... from 'node:http'` makes Node build the
// module's ESM facade, which reads every export once, among them the lazy getters that load
// undici (for WebSocket and friends): a share of the time to ready (see bench/optimization-log.md, "Figures quoted in code comments"),
// for nothing the gateway uses.
// process.getBuiltinModule hands out the same module object without building the facade.
// (Fastify and the other CommonJS packages require() it, which builds no facade either.)
export const http = process.getBuiltinModule('node:http');
