import type { TestProject } from 'vitest/node';
import { startCerbos } from '../../scripts/cerbos-server';
import { startFakeAnthropic, startFakeOpenAI } from '../support/fake-providers';
import { startHostileUpstream } from '../support/hostile-upstream';
import { startScriptedUpstream } from '../support/scripted-upstream';

export default async function setup(project: TestProject) {
  const cerbos = await startCerbos(Number(process.env.ROUTERO_TEST_CERBOS_PORT));
  const openai = await startFakeOpenAI({ gapMs: 2 });
  const anthropic = await startFakeAnthropic({ gapMs: 2 });
  project.provide('fakeOpenAIUrl', openai.url);
  project.provide('fakeAnthropicUrl', anthropic.url);
  const hostile = await startHostileUpstream();
  project.provide('hostileUpstreamUrl', hostile.url);
  const scripted = await startScriptedUpstream();
  project.provide('scriptedUpstreamUrl', scripted.url);
  return async () => {
    await Promise.all([cerbos.stop(), openai.close(), anthropic.close(), hostile.close(), scripted.close()]);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    fakeOpenAIUrl: string;
    fakeAnthropicUrl: string;
    hostileUpstreamUrl: string;
    scriptedUpstreamUrl: string;
  }
}
