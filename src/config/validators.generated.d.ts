// Types of validators.generated.js, which scripts/config-validators.ts writes: one Ajv
// validate function per export (`config`, `auth`, and `backend_<type>` for each backend type).
import type { ValidateFunction } from 'ajv';

export declare const config: ValidateFunction;
