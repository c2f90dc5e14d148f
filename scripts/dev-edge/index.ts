/**
 * Local development only, never deployed. `wrangler dev` with several configs exposes only its
 * first Worker over HTTP, so this tiny Worker is that first one: it hands each request to the
 * gateway or the admin Worker by the port the client connected to (ADMIN_PORT → admin).
 */
interface DevEdgeEnv {
  GATEWAY: Fetcher;
  ADMIN: Fetcher;
  ADMIN_PORT: string;
}

export default {
  async fetch(request: Request, env: DevEdgeEnv): Promise<Response> {
    const port = new URL(request.url).port;
    return port === env.ADMIN_PORT ? env.ADMIN.fetch(request) : env.GATEWAY.fetch(request);
  },
} satisfies ExportedHandler<DevEdgeEnv>;
