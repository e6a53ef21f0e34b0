import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * A fresh clone must pass its tests with nothing beside it: no file may point at a path outside the
 * repository (a sibling folder, a machine's absolute path, a relative path that climbs above the root).
 */
const ROOT = join(__dirname, '..', '..');
const SELF = relative(ROOT, __filename);

const ABSOLUTE_MACHINE_PATHS = [/(?<![\w.:/-])\/(?:work|home|Users|root|mnt|srv)\/[\w.-]/, /\b[A-Z]:\\(?:Users|work)\\/];
// Names of material that lives beside the repository, not in it.
const SIBLING_MATERIAL = [/\bshared\/(?:portone|DESIGN\.md|STYLE\.md|stack-notes\.md)/, /['"]\.\.['"],\s*['"]shared['"]/];

/** Every reference in `text` (the content of `file`, relative to the root) that leaves the repository. */
export function outsideReferences(file: string, text: string): string[] {
  const found: string[] = [];
  const depth = file.split('/').length - 1;
  for (const [index, line] of text.split('\n').entries()) {
    const where = `${file}:${index + 1}`;
    for (const pattern of [...ABSOLUTE_MACHINE_PATHS, ...SIBLING_MATERIAL]) {
      const match = pattern.exec(line);
      if (match) found.push(`${where}: ${match[0]}`);
    }
    // "../" climbing more folders than the file sits below the root ends up outside it.
    for (const match of line.matchAll(/(?<![\w.])((?:\.\.\/)+)/g)) {
      if (match[1].length / 3 > depth) found.push(`${where}: ${match[0]} climbs above the repository root`);
    }
  }
  return found;
}

function repositoryFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' });
  return listed.split('\0').filter((file) => file !== '' && file !== SELF);
}

test('no file of the repository references a path outside it', () => {
  const files = repositoryFiles();
  expect(files).toContain('package.json');
  const problems = files.flatMap((file) => {
    let content: Buffer;
    try {
      content = readFileSync(join(ROOT, file));
    } catch {
      return []; // listed by git but deleted in the working tree
    }
    if (content.includes(0)) return []; // binary
    return outsideReferences(file, content.toString('utf8'));
  });
  expect(problems).toEqual([]);
});

test.each([
  ['test/support/x.ts', "readFileSync(join(process.cwd(), '..', 'shared', 'portone', 'v1.openapi.json'))"],
  ['README.md', 'see `../shared/stack-notes.md`'],
  ['src/a.ts', "const spec = '/work/shared/portone/v1.openapi.json';"],
  ['src/a.ts', "import x from '../../elsewhere/x';"],
  ['.ci/run', 'cd /home/ci/booking && npm test'],
])('the check finds the outside reference in %s: %s', (file, line) => {
  expect(outsideReferences(file, line)).not.toEqual([]);
});

test.each([
  ['src/booking/a.ts', "import { x } from '../graphql/errors';"],
  ['test/e2e/crash/a.ts', "import { y } from '../../support/wait';"],
  ['README.md', 'curl -s http://localhost:4000/graphql and https://developers.portone.io/api/rest-v1'],
])('an in-repository reference passes in %s: %s', (file, line) => {
  expect(outsideReferences(file, line)).toEqual([]);
});
