import type { Router } from '../http/router';
import { parseAuthBody } from '../registry/auth-config';
import { headerValue, readSmallBody } from '../registry/http-input';
import type { RegistryControl } from '../registry/registry-proxy-client';
import { parseSearchQuery } from '../registry/search';

/**
 * docker login (POST /auth, in moby's system router) and docker search
 * (GET /images/search, moby's image router): both only talk to a registry,
 * which in Drydock is the registry-proxy's business. The gateway checks the
 * parameters as dockerd does and relays; credentials are never stored or logged.
 */
export function registerRegistryRoutes(router: Router, registry: RegistryControl): void {
  router.on('POST', '/auth', async (ctx) => {
    const auth = parseAuthBody(await readSmallBody(ctx.req));
    const ok = await registry.login(auth, ctx.signal);
    // AuthenticateOKBody's field order
    ctx.send(200, { IdentityToken: ok.IdentityToken, Status: ok.Status });
  });

  router.on('GET', '/images/search', async (ctx) => {
    const { term, limit, keep } = parseSearchQuery(ctx.query);
    const rows = await registry.search(term, limit, headerValue(ctx.req, 'x-registry-auth'), ctx.signal);
    ctx.send(200, rows.filter(keep));
  });
}
