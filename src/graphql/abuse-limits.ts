import { ApolloArmor } from '@escape.tech/graphql-armor';

/**
 * The abuse limits of every GraphQL document, checked while validating, before any resolver (and so the
 * database) runs. Field suggestions ("did you mean …") are withheld in production.
 */
export function abuseLimits(options: { production: boolean }) {
  return new ApolloArmor({
    // Measured on the selection as if every fragment were written inline: an Apollo Client app nests
    // fragments (`... on PaymentConfirmed { reservation { ...ReservationFields } }`) and must not pay for it.
    maxDepth: { n: 8, flattenFragments: true },
    // The heaviest operation clients send (confirmPayment with both union members) costs about 580.
    costLimit: { maxCost: 1500, flattenFragments: true },
    maxAliases: { n: 15 },
    maxDirectives: { n: 20 },
    // Counted by graphql-js's own parser instead (Apollo's parseOptions.maxTokens, app.ts): armor's counter throws outside the parse step,
    // which Apollo then answers with HTTP 500 for what is a client's syntax error.
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: options.production },
  }).protect();
}
