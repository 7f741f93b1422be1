// A TCP proxy in front of Redis that can lose replies on purpose: Redis applies a command, the
// reply never reaches the client, then the connection drops, exactly what a client sees when
// Redis dies between executing a command and writing its reply.
import net from 'node:net';

export interface ReplyLosingProxy {
  /** `redis://127.0.0.1:PORT` of the proxy. */
  readonly url: string;
  readonly port: number;
  /** From now on, replies on the open connections are dropped (commands still reach Redis). */
  swallowReplies(): void;
  /** Closes every open connection (clients reconnect through the proxy, which forwards normally again). */
  dropConnections(): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function startReplyLosingProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<ReplyLosingProxy> {
  interface Pair { client: net.Socket; upstream: net.Socket; swallow: boolean }
  const pairs = new Set<Pair>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(targetPort, targetHost);
    const pair: Pair = { client, upstream, swallow: false };
    pairs.add(pair);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => { if (!pair.swallow) client.write(d); });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const dropConnections = () => {
    for (const p of pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    pairs.clear();
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get accepted() { return accepted; },
    swallowReplies() { for (const p of pairs) p.swallow = true; },
    dropConnections,
    async close() {
      dropConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
