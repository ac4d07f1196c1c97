// Request ids: a new one is this process's random prefix (80 bits: no two replicas or restarts share
// one) and a counter: unique without the cost of a UUID (randomness per request) on every request.
// Every response names one (X-Request-Id), those the HTTP layer answers itself included.
import { randomBytes } from 'node:crypto';

const REQUEST_ID_PREFIX = `${randomBytes(10).toString('hex')}-`;
let requestCounter = 0;

export const newRequestId = (): string => REQUEST_ID_PREFIX + (requestCounter++).toString(36);
