// node:http, for the gateway's own modules. `import ... from 'node:http'` makes Node build the
// module's ESM facade, which reads every export once, among them the lazy getters that load
// undici (for WebSocket and friends): ~7 % of the time to ready, for nothing the gateway uses.
// process.getBuiltinModule hands out the same module object without building the facade.
// (Fastify and the other CommonJS packages require() it, which builds no facade either.)
export const http = process.getBuiltinModule('node:http');
