import { readRequestCost } from '../src/request-cost';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const DEFAULT_OUT = 16;

describe('readRequestCost', () => {
  it('OpenAI chat: the body names the model; prompt chars / 4 + max_tokens', () => {
    const body = json({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'system', content: 'x'.repeat(40) }, { role: 'user', content: 'y'.repeat(41) }] });
    expect(readRequestCost('openai', '/chat/completions', body, DEFAULT_OUT)).toEqual({ model: 'gpt-4o', tokens: Math.ceil(81 / 4) + 100 });
  });

  it('content parts: text counted, image payloads and roles not', () => {
    const body = json({
      model: 'gpt-4o',
      max_completion_tokens: 10,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a'.repeat(20) },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${'Q'.repeat(50_000)}` } },
          ],
        },
      ],
    });
    expect(readRequestCost('openai', '/chat/completions', body, DEFAULT_OUT).tokens).toBe(5 + 10);
  });

  it('the Responses API: input string or items, instructions, max_output_tokens', () => {
    expect(readRequestCost('openai', '/responses', json({ model: 'gpt-5', input: 'z'.repeat(8), max_output_tokens: 7 }), DEFAULT_OUT)).toEqual({
      model: 'gpt-5',
      tokens: 2 + 7,
    });
    const items = json({ model: 'gpt-5', instructions: 'i'.repeat(4), input: [{ role: 'user', content: [{ type: 'input_text', text: 't'.repeat(8) }] }] });
    expect(readRequestCost('openai', '/responses', items, DEFAULT_OUT).tokens).toBe(3 + DEFAULT_OUT);
  });

  it('embeddings: input strings, no output limit → the default', () => {
    expect(readRequestCost('openai', '/embeddings', json({ model: 'text-embedding-3-small', input: ['abcd', 'efgh'] }), DEFAULT_OUT)).toEqual({
      model: 'text-embedding-3-small',
      tokens: 2 + DEFAULT_OUT,
    });
  });

  it('Anthropic messages: system (string or blocks) and messages; max_tokens', () => {
    const body = json({ model: 'claude-sonnet-4-5', max_tokens: 1024, system: [{ type: 'text', text: 's'.repeat(12) }], messages: [{ role: 'user', content: 'u'.repeat(4) }] });
    expect(readRequestCost('anthropic', '/v1/messages', body, DEFAULT_OUT)).toEqual({ model: 'claude-sonnet-4-5', tokens: 4 + 1024 });
  });

  it("Gemini: the model from the path, contents' text, generationConfig.maxOutputTokens", () => {
    const body = json({ contents: [{ role: 'user', parts: [{ text: 'g'.repeat(16) }, { inline_data: { mime_type: 'image/png', data: 'B'.repeat(9999) } }] }], generationConfig: { maxOutputTokens: 3 } });
    expect(readRequestCost('gemini', '/v1beta/models/gemini-2.5-flash:generateContent', body, DEFAULT_OUT)).toEqual({ model: 'gemini-2.5-flash', tokens: 4 + 3 });
    expect(readRequestCost('gemini', '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', body, DEFAULT_OUT).model).toBe('gemini-2.5-flash');
  });

  it('Azure: the deployment from the path', () => {
    const body = json({ messages: [{ role: 'user', content: 'abcd' }] });
    expect(readRequestCost('azure-openai', '/deployments/my-gpt4o/chat/completions?api-version=2024-10-21', body, DEFAULT_OUT)).toEqual({
      model: 'my-gpt4o',
      tokens: 1 + DEFAULT_OUT,
    });
  });

  it('no body, not JSON, not an object, no model: no model and the default output only', () => {
    for (const body of [undefined, Buffer.from(''), Buffer.from('not json'), Buffer.from('[1,2]'), Buffer.from('{"model": 5}'), Buffer.from('{"model": "gpt-4o"')]) {
      expect(readRequestCost('openai', '/chat/completions', body, DEFAULT_OUT)).toEqual({ tokens: DEFAULT_OUT });
    }
    expect(readRequestCost('openai', '/chat/completions', Buffer.from('  \n{"model":"m"}'), DEFAULT_OUT)).toEqual({ model: 'm', tokens: DEFAULT_OUT });
  });

  it('a deeply nested body does not overflow the stack', () => {
    // JSON.stringify itself recurses: build the text by hand.
    const text = `{"model":"m","messages":${'[{"content":'.repeat(3000)}"abcd"${'}]'.repeat(3000)}}`;
    expect(readRequestCost('openai', '/chat/completions', Buffer.from(text), 0)).toEqual({ model: 'm', tokens: 1 });
  });
});
