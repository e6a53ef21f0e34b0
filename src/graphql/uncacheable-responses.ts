import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';

/**
 * Every GraphQL response is `Cache-Control: no-store`, as Apollo's default cache-control plugin made it
 * (no type or field of ours carries a cache hint, so its policy was always "uncacheable"). That plugin is
 * turned off because it had Apollo wrap every field resolver to collect hints per field: on a
 * bookingStatuses of 100 that is thousands of calls computing nothing but this one constant header.
 */
export function uncacheableResponses(): ApolloServerPlugin[] {
  return [
    ApolloServerPluginCacheControlDisabled(),
    {
      async requestDidStart() {
        return {
          async willSendResponse({ response }) {
            response.http.headers.set('cache-control', 'no-store');
          },
        };
      },
    },
  ];
}
