// A real, certified OpenID Provider (panva/oidc-provider) on loopback, for the
// single sign-on tests in tests/integration/test_oidc.py. Test-only: it uses the
// library's development login and consent pages, which accept any login name.
//
// Configured by environment variables:
//   OIDC_PORT            port to listen on (or the first argument)
//   OIDC_REDIRECT_URI    the one redirect URI of the one client (Witnessbox's callback)
//   OIDC_CLIENT_ID       that client's id
//   OIDC_CLIENT_SECRET   that client's secret (sent with client_secret_basic)
//   OIDC_ACCOUNTS_FILE   JSON: {"<login name>": {"preferred_username": ..., "groups": [...], ...}}
//                        read at every sign-in, so a test can change a person's groups
//   OIDC_CLAIMS_IN_ID_TOKEN  "1" to put the profile and groups claims in the ID token too;
//                        otherwise (the library's default) they come only from userinfo
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT || process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const accountsFile = required('OIDC_ACCOUNTS_FILE');

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.js: set ${name}`);
    process.exit(2);
  }
  return value;
}

// The login name is the account id and the subject: a test changes a person's
// groups by rewriting the file, keeping the subject.
async function findAccount(_ctx, id) {
  const accounts = JSON.parse(readFileSync(accountsFile, 'utf8'));
  const account = accounts[id];
  if (!account) {
    return undefined;
  }
  return {
    accountId: id,
    async claims() {
      return { ...account, sub: id };
    },
  };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: required('OIDC_CLIENT_ID'),
      client_secret: required('OIDC_CLIENT_SECRET'),
      redirect_uris: [required('OIDC_REDIRECT_URI')],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  conformIdTokenClaims: process.env.OIDC_CLAIMS_IN_ID_TOKEN !== '1',
  cookies: { keys: ['witnessbox-test-provider-only'] },
  features: { devInteractions: { enabled: true } },
  findAccount,
  pkce: { required: () => true },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening at ${issuer}`);
});
