import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { FastifyInstance } from 'fastify';

/** Where the IDE's files are served from: our own origin, so the page works with no internet at all. */
export const GRAPHQL_IDE_ASSET_PREFIX = '/graphql-ide';

/**
 * The IDE's Content-Security-Policy: every script and stylesheet from this origin only. GraphiQL sets
 * inline style attributes (hence 'unsafe-inline' for styles) but runs no inline or remote script.
 */
export const GRAPHQL_IDE_CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
  // helmet's default would upgrade http://localhost requests to https and break the page in development.
  upgradeInsecureRequests: null,
};

interface IdeAsset {
  contentType: string;
  /** A file of an npm package, read once at start. */
  packageName: string;
  file: string;
}

// The prebuilt browser bundles the packages publish: GraphiQL 4's UMD build expects React 18's UMD globals.
const ASSETS: Record<string, IdeAsset> = {
  'react.production.min.js': { contentType: 'text/javascript; charset=utf-8', packageName: 'react', file: 'umd/react.production.min.js' },
  'react-dom.production.min.js': { contentType: 'text/javascript; charset=utf-8', packageName: 'react-dom', file: 'umd/react-dom.production.min.js' },
  'graphiql.min.js': { contentType: 'text/javascript; charset=utf-8', packageName: 'graphiql', file: 'graphiql.min.js' },
  'graphiql.min.css': { contentType: 'text/css; charset=utf-8', packageName: 'graphiql', file: 'graphiql.min.css' },
};

// Kept out of the HTML so that the CSP needs no inline script: the page's settings travel in a JSON block.
const START_SCRIPT = `'use strict';
(function () {
  var settings = JSON.parse(document.getElementById('graphql-ide-settings').textContent);
  var fetcher = GraphiQL.createFetcher({ url: settings.endpoint });
  var props = { fetcher: fetcher, defaultEditorToolsVisibility: settings.headers ? 'headers' : false };
  if (settings.headers) props.headers = settings.headers;
  if (settings.query) props.defaultQuery = settings.query;
  ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, props));
})();
`;

const DEFAULT_QUERY = `# Upcoming events. Run with the play button or Ctrl-Enter; the Headers tab below holds the token sent.
query UpcomingEvents {
  events {
    id
    title
    startsAt
  }
}
`;

export interface GraphQLIdeOptions {
  enabled: boolean;
  /** Development only: a buyer token to put in the headers editor, made fresh for each page load. */
  presetToken?: () => Promise<string>;
}

function packageFile(packageName: string, file: string): Buffer {
  return readFileSync(join(dirname(require.resolve(`${packageName}/package.json`)), file));
}

/** Serves the IDE's bundles under GRAPHQL_IDE_ASSET_PREFIX; nothing when the IDE is off. */
export function registerGraphQLIdeAssets(server: FastifyInstance, options: GraphQLIdeOptions): void {
  if (!options.enabled) return;
  const bodies = new Map<string, { contentType: string; body: Buffer }>();
  for (const [name, asset] of Object.entries(ASSETS)) {
    bodies.set(name, { contentType: asset.contentType, body: packageFile(asset.packageName, asset.file) });
  }
  bodies.set('start.js', { contentType: 'text/javascript; charset=utf-8', body: Buffer.from(START_SCRIPT) });
  server.get<{ Params: { name: string } }>(`${GRAPHQL_IDE_ASSET_PREFIX}/:name`, async (request, reply) => {
    const asset = bodies.get(request.params.name);
    if (!asset) return reply.code(404).send({ error: 'Not found' });
    return reply.header('content-type', asset.contentType).header('cache-control', 'public, max-age=3600').send(asset.body);
  });
}

/** JSON inside a <script> block: `<` escaped so no value can close the block. */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function graphQLIdePage(settings: { endpoint: string; headers?: string; query: string }): string {
  const asset = (name: string) => `${GRAPHQL_IDE_ASSET_PREFIX}/${name}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Booking API · GraphiQL</title>
<link rel="stylesheet" href="${asset('graphiql.min.css')}">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script type="application/json" id="graphql-ide-settings">${scriptSafeJson(settings)}</script>
<script src="${asset('react.production.min.js')}"></script>
<script src="${asset('react-dom.production.min.js')}"></script>
<script src="${asset('graphiql.min.js')}"></script>
<script src="${asset('start.js')}"></script>
</body>
</html>
`;
}

/**
 * Replaces Apollo's landing page (Apollo Sandbox, loaded from a CDN and blank offline) with GraphiQL
 * served from this server, or with nothing when the IDE is off.
 */
export function graphQLIdeLandingPage(options: GraphQLIdeOptions): ApolloServerPlugin {
  if (!options.enabled) return ApolloServerPluginLandingPageDisabled();
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return {
            html: async () => {
              const token = options.presetToken ? await options.presetToken() : null;
              const headers = token ? JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) : undefined;
              return graphQLIdePage({ endpoint: '/graphql', headers, query: DEFAULT_QUERY });
            },
          };
        },
      };
    },
  };
}
