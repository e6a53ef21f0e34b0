import { useStarted } from '../support/use-started';

/** The hooks useStarted registers, seen from a describe block that uses them. */
const events: string[] = [];
let earlyRead = '';

class Counter {
  value = 0;
  bump(): number {
    this.value += 1;
    return this.value;
  }
}

describe('a counter started for the block', () => {
  const counter = useStarted('the counter', async () => (events.push('start'), new Counter()), {
    reset: async (c) => (events.push('reset'), (c.value = 0)),
    afterEachTest: async (c) => events.push(`check ${c.value}`),
    close: async () => events.push('close'),
  });
  try {
    void counter.value;
  } catch (error) {
    earlyRead = (error as Error).message;
  }

  test('methods run on the started object (bound), and writes reach it', () => {
    expect(counter.bump()).toBe(1);
    expect(counter.bump()).toBe(2);
    counter.value = 10;
    expect(counter.bump()).toBe(11);
  });

  test('each test starts from a reset', () => {
    expect(counter.value).toBe(0);
    counter.bump();
  });
});

test('start once, reset before and check after each test, close after the last', () => {
  expect(events).toEqual(['start', 'reset', 'check 11', 'reset', 'check 1', 'close']);
});

test('a read before it started fails, naming what was read too early', () => {
  expect(earlyRead).toMatch(/^the counter is used before it started/);
});
