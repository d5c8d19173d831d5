import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startSimProvider, type SimProvider } from '../src';

const OPENAI_KEY = 'sk-sim-permissions-0001';
const ANTHROPIC_KEY = 'sk-ant-sim-perm-0002';

/** What a valid key may not do: answered as the real APIs answer it, and never a statement about the key. */
describe('permission errors', () => {
  let sim: SimProvider;
  beforeAll(async () => {
    sim = await startSimProvider({ keys: { [OPENAI_KEY]: {}, [ANTHROPIC_KEY]: {} }, forbiddenModels: ['o3-restricted', 'claude-restricted'] });
  });
  afterAll(() => sim.close());

  it('OpenAI: an admin endpoint with a project key is a 401 about missing scopes', async () => {
    const res = await fetch(`${sim.url}/v1/organization/users`, { headers: { authorization: `Bearer ${OPENAI_KEY}` } });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { message: string; code: unknown } };
    expect(body.error.message).toMatch(/^You have insufficient permissions for this operation\. Missing scopes: /);
    expect(body.error.code).toBeNull();
  });

  it('OpenAI: a forbidden model is a 403 the SDK raises as PermissionDeniedError', async () => {
    const client = new OpenAI({ apiKey: OPENAI_KEY, baseURL: `${sim.url}/v1`, maxRetries: 0 });
    const call = client.chat.completions.create({ model: 'o3-restricted', messages: [{ role: 'user', content: 'hi' }] });
    await expect(call).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(sim.stats(OPENAI_KEY).ok).toBe(0);
  });

  it('Anthropic: a forbidden model and an admin endpoint are 403 permission_error', async () => {
    const client = new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: sim.url, maxRetries: 0 });
    const call = client.messages.create({ model: 'claude-restricted', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    await expect(call).rejects.toMatchObject({ status: 403, error: { error: { type: 'permission_error' } } });
    const admin = await fetch(`${sim.url}/v1/organizations/users`, {
      headers: { 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': '2023-06-01' },
    });
    expect(admin.status).toBe(403);
    expect(await admin.json()).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
  });
});
