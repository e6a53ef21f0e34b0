import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';

/**
 * `npm install` prints EBADENGINE for every installed package whose `engines.node` does not accept the
 * running Node. The lockfile records each package's range, so the promise "no EBADENGINE on any Node our
 * `engines` accepts" is a subset check: our range must lie inside every package's range. A dependency
 * update that wants a newer Node fails here, not on a user's machine. (`.ci/run` also greps the real
 * install's output on the machine's own Node.)
 */
const root = join(__dirname, '..', '..');
const ours: string = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node;
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: unknown; optional?: boolean; os?: string[]; cpu?: string[] }>;
};

/** The packages npm installs on this platform (others are skipped by npm, and so never warn). */
function installedPackages() {
  return Object.entries(lock.packages)
    .filter(([path]) => path !== '')
    .filter(([, entry]) => !entry.os || entry.os.includes(process.platform))
    .filter(([, entry]) => !entry.cpu || entry.cpu.includes(process.arch));
}

function nodeRangeOf(entry: { engines?: unknown }): string | null {
  const engines = entry.engines as { node?: unknown } | string[] | undefined;
  // Some old packages write engines as an array of strings ("node >= 0.4"); npm ignores those.
  if (!engines || Array.isArray(engines) || typeof engines.node !== 'string') return null;
  return engines.node;
}

describe('the Node range in package.json engines', () => {
  test('is a valid range that includes the Node this runs on', () => {
    expect(semver.validRange(ours)).not.toBeNull();
    expect(semver.satisfies(process.version, ours)).toBe(true);
  });

  test('lies inside every installed package’s engines.node (npm install prints no EBADENGINE)', () => {
    const conflicts = installedPackages()
      .map(([path, entry]) => ({ name: `${path.replace(/^.*node_modules\//, '')}@${entry.version}`, range: nodeRangeOf(entry) }))
      .filter((pkg): pkg is { name: string; range: string } => pkg.range !== null)
      .filter((pkg) => !semver.subset(ours, pkg.range, { includePrerelease: false }))
      .map((pkg) => `${pkg.name} wants node ${pkg.range}`);
    expect(conflicts).toEqual([]);
  });

  test('the check catches a range wider than a package accepts', () => {
    // jest 30 supports ^20 || ^22 || >=24, so an engines range that admits Node 23 must be reported.
    expect(semver.subset('>=20.19.0 <21 || >=22', '^18.14.0 || ^20.0.0 || ^22.0.0 || >=24.0.0')).toBe(false);
    expect(semver.subset(ours, '^18.14.0 || ^20.0.0 || ^22.0.0 || >=24.0.0')).toBe(true);
  });
});
