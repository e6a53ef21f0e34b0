import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../src/errors';

/** The README's table of `extensions.code` values is the one clients read first: it lists every code the server sends. */
test('README lists every extensions.code with its meaning', () => {
  const readme = readFileSync('README.md', 'utf8');
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    expect(readme).toContain(`| \`${code}\` | ${meaning.replace(/\|/g, '\\|')} |`);
  }
});
