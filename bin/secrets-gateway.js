#!/usr/bin/env -S node --max-semi-space-size=16 --heap-growing-percent=20
// The installed command runs the compiled output (built by `npm run build`, which `npm ci` runs through `prepare`).
import '../dist/main.js';
