/**
 * The OpenAI schema subset in test/fixtures is all the tests read (finding 12: a fresh clone has no
 * ../shared/specs). It must be self-contained — every `$ref` of every extracted schema resolves
 * inside it — and must carry its licence and source.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/paths';
import { compileOpenaiSchema, openaiFixtureRoots, openaiSchemaErrors } from '../support/openai-spec';

describe('OpenAI schema fixture', () => {
  it.each(openaiFixtureRoots())('%s compiles with every $ref resolved inside the fixture', (name) => {
    expect(() => compileOpenaiSchema(name)).not.toThrow();
  });

  it('still tells a valid body from an invalid one', () => {
    expect(openaiSchemaErrors('ListModelsResponse', { object: 'list', data: [{ id: 'mock/echo', object: 'model', created: 0, owned_by: 'routero' }] })).toEqual([]);
    expect(openaiSchemaErrors('ListModelsResponse', { object: 'list', data: [{ id: 'mock/echo' }] }).length).toBeGreaterThan(0);
  });

  it('ships with the MIT licence and names its source commit', () => {
    const fixture = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'openai-spec-subset.json'), 'utf8')) as { source: { repository: string; commit: string } };
    expect(fixture.source).toMatchObject({ repository: 'https://github.com/openai/openai-openapi', commit: expect.stringMatching(/^[0-9a-f]{7,40}$/) });
    expect(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'openai-spec.LICENSE'), 'utf8')).toMatch(/MIT License[\s\S]*Copyright \(c\) OpenAI/);
  });
});
