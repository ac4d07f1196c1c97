// The local_filesystem backend's options schema (TypeBox): what a backend entry of this type may say. Loaded only by
// the generators and the tests (through its descriptor's optionsSchema()), never by a start: see ../registry.ts.
import { Type } from '@sinclair/typebox';
import { backendSchema } from '../../config/schema.ts';

const optionalPath = () => Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()]));

export const optionsSchema = backendSchema({
  type: Type.Literal('local_filesystem'),
  connections_file_path: optionalPath(),
  variables_file_path: optionalPath(),
  configs_file_path: optionalPath(),
  poll_interval_seconds: Type.Number({ default: 2, minimum: 0.05, maximum: 3600, description: 'Fallback check for changes the directory watch misses.' }),
});
