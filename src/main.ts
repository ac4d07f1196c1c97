// Process entry for the compiled package (bin/secrets-gateway.js) and `npm start`.
import { cli } from './cli.ts';

cli(process.argv);
