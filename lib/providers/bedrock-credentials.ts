/**
 * Bedrock credentials as one provider-key secret (docs/decisions/0018). The secret an admin stores
 * for a Bedrock provider key is a JSON object:
 *
 *   {"access_key_id": "AKIA…", "secret_access_key": "…", "region": "us-east-1"}
 *   {"access_key_id": "ASIA…", "secret_access_key": "…", "session_token": "…", "region": "eu-west-1"}
 *
 * It is encrypted at rest like every provider key; the gateway parses it only to sign a request
 * (worker/providers/bedrock), and the admin API can refuse a malformed one when it is added
 * (`bedrockCredentialsProblem`); that is why this lives in lib/.
 * An error here never quotes the secret, only which field is wrong.
 */
import * as z from 'zod/mini';
import { GatewayError } from '../errors';

const credentialsSchema = z.strictObject({
  // AWS access key ids are 16–128 characters of [A-Z0-9] (IAM API AccessKeyIdType).
  access_key_id: z.string().check(z.regex(/^[A-Z0-9]{16,128}$/)),
  secret_access_key: z.string().check(z.minLength(16), z.maxLength(256)),
  session_token: z.optional(z.string().check(z.minLength(1), z.maxLength(8192))),
  // A region code such as us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5.
  // eslint-disable-next-line security/detect-unsafe-regex -- anchored; one optional bounded group of a fixed class: linear
  region: z.string().check(z.regex(/^[a-z]{2}(?:-[a-z]{2,12}){1,2}-\d{1,2}$/)),
});

export type BedrockCredentials = z.infer<typeof credentialsSchema>;

/** Whether a secret would be accepted (for the admin API to validate a key when it is added). */
export function bedrockCredentialsProblem(secret: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(secret);
  } catch {
    return 'The Bedrock provider key must be a JSON object with access_key_id, secret_access_key, region and optionally session_token.';
  }
  const r = credentialsSchema.safeParse(value);
  if (r.success) return null;
  const field = r.error.issues[0]?.path.map(String).join('.') ?? '';
  return field ? `The Bedrock provider key's '${field}' is missing or malformed.` : 'The Bedrock provider key must be a JSON object.';
}

export function parseBedrockCredentials(secret: string): BedrockCredentials {
  const problem = bedrockCredentialsProblem(secret);
  if (problem !== null) throw new GatewayError('unavailable', 'The provider key for this model cannot be used right now.', { reason: problem });
  return credentialsSchema.parse(JSON.parse(secret));
}
