/**
 * The Bedrock pieces run inside workerd, not only in Node: SigV4 signing (aws4fetch on WebCrypto)
 * gives the signature that the fake Bedrock's independent verifier accepts in
 * test/unit/translate-bedrock.test.ts (pinned here for a fixed time), and the Smithy event-stream
 * codec decodes and checks CRCs with no Node built-ins.
 */
import { describe, expect, it } from 'vitest';
import { buildBedrockCall } from '../../worker/providers/bedrock';
import { awsEventStreamDecoder, eventStreamCodec, FRAMING_ERROR_EVENT } from '../../worker/providers/bedrock/eventstream';

const SECRET = JSON.stringify({ access_key_id: 'AKIAFAKEROUTERO0TEST', secret_access_key: 'fakeSecretAccessKey/For+Routero/Tests0000', region: 'us-east-1' });

describe('Bedrock in workerd', () => {
  it('signs a ConverseStream request exactly as verified in Node', async () => {
    const call = await buildBedrockCall({
      baseUrl: null,
      model: 'anthropic.claude-sonnet-4-5-20250929-v1:0',
      secret: SECRET,
      body: { messages: [{ role: 'user', content: [{ text: 'Hi' }] }] },
      action: 'converse-stream',
      datetime: '20261130T040000Z',
    });
    expect(call.url).toBe('https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream');
    expect(call.headers.get('authorization')).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAFAKEROUTERO0TEST/20261130/us-east-1/bedrock/aws4_request, SignedHeaders=accept;host;x-amz-date, Signature=7d0a3b83ae4a41cd73846d1c1ec954d25aba008ccfa550d1f6c96c676bb2bfcb',
    );
  });

  it('decodes event-stream messages in any chunking and rejects a bad CRC', () => {
    const enc = new TextEncoder();
    const msg = (type: string, payload: unknown) =>
      eventStreamCodec.encode({
        headers: { ':event-type': { type: 'string', value: type }, ':message-type': { type: 'string', value: 'event' }, ':content-type': { type: 'string', value: 'application/json' } },
        body: enc.encode(JSON.stringify(payload)),
      });
    const bytes = new Uint8Array([...msg('messageStart', { role: 'assistant' }), ...msg('messageStop', { stopReason: 'end_turn' })]);
    const d = awsEventStreamDecoder();
    const events = [];
    for (let i = 0; i < bytes.length; i += 3) events.push(...d.push(bytes.slice(i, i + 3)));
    expect(events).toEqual([
      { event: 'messageStart', data: { role: 'assistant' } },
      { event: 'messageStop', data: { stopReason: 'end_turn' } },
    ]);
    const bad = msg('messageStart', { role: 'assistant' });
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    expect(awsEventStreamDecoder().push(bad)[0]!.event).toBe(FRAMING_ERROR_EVENT);
  });
});
