import { build, stop as stopEsbuild } from 'esbuild';

export interface BrowserBundleOptions {
  /** `production` drops React's and Apollo Client's development checks and warnings. */
  mode: 'development' | 'production';
}

const bundles = new Map<string, Promise<Uint8Array>>();
let previous: Promise<unknown> = Promise.resolve();

/**
 * One browser script (IIFE) bundled from a TypeScript/TSX entry with esbuild, once per process and mode.
 * Builds run one after another and esbuild's service (a child process in our process group) is stopped
 * after each, so nothing of ours outlives a shutdown and no build is cut off by another's stop.
 */
export function bundleForBrowser(entry: string, { mode }: BrowserBundleOptions): Promise<Uint8Array> {
  const key = `${mode}:${entry}`;
  let bundle = bundles.get(key);
  if (!bundle) {
    bundle = previous.then(async () => {
      try {
        const result = await build({
          entryPoints: [entry],
          bundle: true,
          write: false,
          minify: true,
          target: 'es2020',
          format: 'iife',
          jsx: 'automatic',
          // Selects React's and Apollo Client's builds (Apollo reads the development/production export conditions).
          conditions: [mode],
          define: { 'process.env.NODE_ENV': JSON.stringify(mode) },
          logLevel: 'silent',
        });
        return result.outputFiles[0].contents;
      } finally {
        await stopEsbuild();
      }
    });
    previous = bundle.catch(() => undefined);
    bundles.set(key, bundle);
  }
  return bundle;
}
