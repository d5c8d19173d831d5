import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startSimProvider, type SimProvider } from '../src';
import { anthropicHeaders, call, chatBody, messagesBody, openaiHeaders } from './helpers';

const ORG_A = 'sk-sim-org-member-aaaa';
const ORG_B = 'sk-sim-org-member-bbbb';
const PROJECT_KEY = 'sk-sim-org-project-cccc';
const LONE = 'sk-sim-lone-key-dddd';
const LONE_2 = 'sk-sim-lone-key-eeee';
const REVOKED = 'sk-sim-org-revoked-ffff';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('organizations: one budget for all keys of an organization, named in every answer', () => {
  let sim: SimProvider;
  const chat = (key: string) => call(`${sim.url}/v1/chat/completions`, { headers: openaiHeaders(key), body: chatBody() });
  const openai = (key: string) => new OpenAI({ apiKey: key, baseURL: `${sim.url}/v1`, maxRetries: 0 });

  beforeAll(async () => {
    sim = await startSimProvider({
      windowMs: 2000,
      orgs: { 'org-sim-shared': { rpm: 3 } },
      keys: {
        [ORG_A]: { org: 'org-sim-shared' },
        [ORG_B]: { org: 'org-sim-shared' },
        [PROJECT_KEY]: { org: 'org-sim-shared', project: 'proj_sim0001' },
        [LONE]: { rpm: 2 },
        [LONE_2]: { rpm: 2 },
        [REVOKED]: { org: 'org-sim-shared', mode: 'invalid' },
      },
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it("keys of one organization draw on the organization's one budget", async () => {
    expect((await chat(ORG_A)).status).toBe(200);
    const second = await chat(ORG_B);
    expect(second.status).toBe(200);
    // ORG_B's answer already shows ORG_A's request: the window is the organization's.
    expect(second.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect((await chat(PROJECT_KEY)).status).toBe(200);
    // Neither key has spent 3 on its own, yet both are refused now.
    expect((await chat(ORG_A)).status).toBe(429);
    expect((await chat(ORG_B)).status).toBe(429);
    // Keys without an organization keep budgets of their own.
    expect((await chat(LONE)).status).toBe(200);
    expect(sim.windowEndsAt(ORG_B)).toBe(sim.windowEndsAt(ORG_A));
  });

  it('OpenAI answers name the organization (and the project) on 200, 429, 400 and models; never on 401', async () => {
    const { response } = await openai(ORG_A).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(response.headers.get('openai-organization')).toBe('org-sim-shared');
    expect(response.headers.get('openai-project')).toBeNull();

    const project = await chat(PROJECT_KEY);
    expect(project.headers.get('openai-organization')).toBe('org-sim-shared');
    expect(project.headers.get('openai-project')).toBe('proj_sim0001');

    const models = await call(`${sim.url}/v1/models`, { headers: openaiHeaders(ORG_B) });
    expect(models.headers.get('openai-organization')).toBe('org-sim-shared');
    const bad = await call(`${sim.url}/v1/chat/completions`, { headers: openaiHeaders(ORG_B), body: { model: 'gpt-4o-mini' } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('openai-organization')).toBe('org-sim-shared');

    sim.consume(ORG_A, 10);
    const err = await openai(ORG_B)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rate = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rate.headers.get('openai-organization')).toBe('org-sim-shared');
    expect(rate.message).toContain('Rate limit reached for gpt-4o-mini in organization org-sim-shared on requests per min (RPM): Limit 3, Used 12, Requested 1.');

    const unknown = await chat('sk-sim-not-a-key-9999');
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('openai-organization')).toBeNull();
    const revoked = await chat(REVOKED);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('openai-organization')).toBeNull();
  });

  it("a key with no organization is its own: a stable id derived from the key that never contains it", async () => {
    const first = (await chat(LONE)).headers.get('openai-organization') ?? '';
    expect(first).toMatch(/^org-[A-Za-z0-9]{24}$/);
    expect(first).not.toContain('lone');
    expect(first).not.toContain(LONE.slice(-4));
    expect((await chat(LONE)).headers.get('openai-organization')).toBe(first);
    expect(sim.organization(LONE)?.id).toBe(first);
    const other = (await chat(LONE_2)).headers.get('openai-organization');
    expect(other).toMatch(/^org-[A-Za-z0-9]{24}$/);
    expect(other).not.toBe(first);
    // Derived from the key alone: a second simulator gives the same key the same organization.
    const again = await startSimProvider({ keys: { [LONE]: {} } });
    try {
      expect(again.organization(LONE)?.id).toBe(first);
    } finally {
      await again.close();
    }
    expect(sim.organization('sk-sim-not-a-key-9999')).toBeUndefined();
  });

  it('Anthropic answers carry anthropic-organization-id (a UUID) and the 429 names it and the model', async () => {
    const anthropic = new Anthropic({ apiKey: ORG_A, baseURL: sim.url, maxRetries: 0 });
    const { response } = await anthropic.messages
      .create({ model: 'claude-haiku-4-5-20251001', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    const orgId = response.headers.get('anthropic-organization-id') ?? '';
    expect(orgId).toMatch(UUID_V4);
    expect(orgId).toBe(sim.organization(ORG_A)?.anthropicId);
    // Same organization, same id, whichever key asks.
    const viaB = await call(`${sim.url}/v1/messages`, { headers: anthropicHeaders(ORG_B), body: messagesBody() });
    expect(viaB.headers.get('anthropic-organization-id')).toBe(orgId);
    const lone = await call(`${sim.url}/v1/messages`, { headers: anthropicHeaders(LONE), body: messagesBody() });
    expect(lone.headers.get('anthropic-organization-id')).toMatch(UUID_V4);
    expect(lone.headers.get('anthropic-organization-id')).not.toBe(orgId);

    sim.consume(ORG_B, 1); // the organization's third request this window
    const refused = await anthropic.messages
      .create({ model: 'claude-haiku-4-5-20251001', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    const rate = refused as InstanceType<typeof Anthropic.RateLimitError>;
    expect(rate.headers.get('anthropic-organization-id')).toBe(orgId);
    expect(rate.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(rate.message).toContain(
      `This request would exceed your organization's rate limit of 3 requests per minute (org: ${orgId}, model: claude-haiku-4-5-20251001).`,
    );
  });

  it('setLimits on a member key changes the limits of the whole organization', async () => {
    sim.setLimits(ORG_B, { rpm: 1 });
    try {
      expect((await chat(ORG_A)).status).toBe(200);
      const refused = await chat(ORG_B);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('x-ratelimit-limit-requests')).toBe('1');
    } finally {
      sim.setLimits(ORG_B, { rpm: 3 });
    }
  });

  it('refuses at start a key that belongs to an organization and declares limits of its own', async () => {
    await expect(startSimProvider({ keys: { 'sk-sim-conflict-0001': { org: 'org-x', rpm: 5 } } })).rejects.toThrow(
      /belongs to organization "org-x": declare its limits in orgs\["org-x"\]/,
    );
  });
});
