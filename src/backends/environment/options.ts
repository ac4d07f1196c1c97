// The environment backend's options schema (TypeBox): what a backend entry of this type may say. Loaded only by
// the generators and the tests (through its descriptor's optionsSchema()), never by a start: see ../registry.ts.
import { Type } from '@sinclair/typebox';
import { backendSchema } from '../../config/schema.ts';

export const optionsSchema = backendSchema({
  type: Type.Literal('environment'),
});
