import { redaction } from '../src/scrub';
import { StreamScrubber } from '../src/stream-scrubber';

const SECRET = 'sk-test-ECHOED-0123456789';

/** Feeds `text` cut at every given offset and returns what came out. */
function run(text: string, cuts: number[]): { out: string; pieces: string[] } {
  const scrubber = new StreamScrubber(SECRET);
  const pieces: string[] = [];
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    pieces.push(scrubber.push(Buffer.from(text.slice(from, cut))).toString());
    from = cut;
  }
  pieces.push(scrubber.end().toString());
  return { out: pieces.join(''), pieces };
}

describe('StreamScrubber', () => {
  const text = `data: {"key":"${SECRET}","again":"${SECRET}"}\n\ndata: [DONE]\n\n`;
  const expected = text.split(SECRET).join(redaction(SECRET));

  it('removes the secret wherever the chunks are cut, every cut tried', () => {
    for (let a = 0; a <= text.length; a++) {
      const cuts = [a, Math.min(text.length, a + 7)];
      expect(run(text, cuts).out).toBe(expected);
    }
  });

  it('removes it when every byte is its own chunk', () => {
    const cuts = Array.from({ length: text.length - 1 }, (_, i) => i + 1);
    expect(run(text, cuts).out).toBe(expected);
  });

  it('holds nothing back when a chunk ends an event, so streams are not delayed', () => {
    const scrubber = new StreamScrubber(SECRET);
    const event = 'data: {"choices":[{"delta":{"content":"s"}}]}\n\n';
    expect(scrubber.push(Buffer.from(event)).toString()).toBe(event);
  });

  it('holds back only a tail that could start the secret, and gives it back when it does not', () => {
    const scrubber = new StreamScrubber(SECRET);
    expect(scrubber.push(Buffer.from('abc sk-te')).toString()).toBe('abc ');
    expect(scrubber.push(Buffer.from('a time')).toString()).toBe('sk-tea time');
    expect(scrubber.push(Buffer.from(' sk-test')).toString()).toBe(' ');
    expect(scrubber.end().toString()).toBe('sk-test');
  });

  it('keeps the length of what it replaces, so a Content-Length stays true', () => {
    expect(redaction(SECRET)).toMatch(/^\[redacted\]\*+$/);
    expect(redaction(SECRET)).toHaveLength(SECRET.length);
    expect(redaction('short')).toBe('*****');
    expect(run(text, [5]).out).toHaveLength(text.length);
  });

  it('passes bytes that are not UTF-8 unchanged', () => {
    const scrubber = new StreamScrubber(SECRET);
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a]);
    expect(Buffer.concat([scrubber.push(bytes), scrubber.end()])).toEqual(bytes);
  });
});
