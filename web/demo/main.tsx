import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { ApolloProvider } from '@apollo/client/react';
import { useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import shipped from '../../schema/possible-types.json';
import type { CheckoutSettings } from '../../src/http/demo-checkout.settings';
import { Checkout, type Language } from './Checkout';

const settings = JSON.parse(document.getElementById('checkout-settings')!.textContent!) as CheckoutSettings;

/**
 * One Apollo Client per buyer token. `possibleTypes` (generated from the schema, shipped in
 * schema/possible-types.json) tells the cache that PaymentConfirmed and PaymentRefunded are the members of
 * ConfirmPaymentResult: without it fragments on them match heuristically and their fields are dropped.
 */
function createClient(token: string): ApolloClient {
  return new ApolloClient({
    link: new HttpLink({ uri: settings.endpoint, headers: { authorization: `Bearer ${token}` } }),
    cache: new InMemoryCache({ possibleTypes: shipped.possibleTypes }),
  });
}

function App() {
  const [token, setToken] = useState(settings.token ?? sessionStorage.getItem('buyerToken') ?? '');
  const [language, setLanguage] = useState<Language>('ko');
  const client = useMemo(() => (token ? createClient(token) : null), [token]);
  const useToken = (value: string) => {
    sessionStorage.setItem('buyerToken', value);
    setToken(value);
  };
  return (
    <>
      <header>
        <h1>Booking API · reference checkout</h1>
        {(['ko', 'en'] as const).map((code) => (
          <button key={code} type="button" aria-pressed={language === code} onClick={() => setLanguage(code)}>
            {code === 'ko' ? '한국어' : 'English'}
          </button>
        ))}
      </header>
      {client ? (
        <ApolloProvider client={client}>
          <Checkout payment={settings.payment} language={language} />
        </ApolloProvider>
      ) : (
        <TokenForm onToken={useToken} />
      )}
    </>
  );
}

/** Outside development no token is handed out: paste a buyer JWT (`Authorization: Bearer …`). */
function TokenForm({ onToken }: { onToken: (token: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main>
      <section>
        <h2>Buyer token</h2>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            if (value.trim()) onToken(value.trim());
          }}
        >
          <label className="token">
            <input id="buyer-token" type="password" autoComplete="off" placeholder="Buyer JWT" value={value} onChange={(event) => setValue(event.target.value)} />
            <button className="primary" type="submit">
              Use token
            </button>
          </label>
        </form>
      </section>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
