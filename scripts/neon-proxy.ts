/**
 * A WebSocket-to-TCP proxy so `@neondatabase/serverless` (which speaks the Postgres protocol over a
 * WebSocket) can reach a plain local Postgres — Neon's documented recipe for local development.
 * The client names its target as `?address=host:port`; only the one configured Postgres address is
 * allowed, so this is not an open relay. Binds to loopback only.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

export interface NeonProxy {
  port: number;
  close(): Promise<void>;
  /** Drops every open connection (used to simulate a database outage). */
  dropConnections(): void;
}

export async function startNeonProxy(opts: { port: number; target: { host: string; port: number } }): Promise<NeonProxy> {
  const sockets = new Set<net.Socket>();
  const clients = new Set<WebSocket>();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: opts.port });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });

  wss.on('connection', (ws, req) => {
    const address = new URL(req.url ?? '/', 'http://localhost').searchParams.get('address') ?? '';
    const [host, portText] = address.split(':');
    const allowedHosts = new Set([opts.target.host, 'localhost', '127.0.0.1']);
    if (!host || !allowedHosts.has(host) || Number(portText) !== opts.target.port) {
      ws.close(1008, 'address not allowed');
      return;
    }
    clients.add(ws);
    const tcp = net.connect({ host: opts.target.host, port: opts.target.port });
    sockets.add(tcp);
    tcp.setNoDelay(true);
    const pending: Buffer[] = [];
    let connected = false;
    tcp.on('connect', () => {
      connected = true;
      for (const b of pending.splice(0)) tcp.write(b);
    });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (connected) tcp.write(buf);
      else pending.push(buf);
      // A Postgres server closes the connection after the client's Terminate message ('X', length
      // 4; PostgreSQL protocol §55.2.11). PGlite's socket server does not, which would leave the
      // Worker's WebSocket — and with it the Worker invocation — open; so close both sides here.
      if (buf.length >= 5 && buf.subarray(buf.length - 5).equals(TERMINATE)) {
        tcp.end();
        ws.close(1000);
      }
    });
    tcp.on('data', (chunk) => {
      if (ws.readyState === ws.OPEN) ws.send(chunk);
    });
    const closeBoth = () => {
      sockets.delete(tcp);
      clients.delete(ws);
      tcp.destroy();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
    };
    tcp.on('error', closeBoth);
    tcp.on('close', closeBoth);
    ws.on('close', closeBoth);
    ws.on('error', closeBoth);
  });

  const dropConnections = () => {
    for (const s of sockets) s.destroy();
    for (const c of clients) c.terminate();
  };
  return {
    port: (wss.address() as AddressInfo).port,
    dropConnections,
    close() {
      dropConnections();
      return new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
