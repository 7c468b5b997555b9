import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';

/** Ports this process has handed out, so two callers starting servers side by side never get the same one. */
const handedOut = new Set<number>();

/** Where listening ports are picked: below the kernel's ephemeral range, down to this port. */
const lowestListeningPort = 10_000;

/**
 * The kernel's range for outgoing connections' local ports (net.ipv4.ip_local_port_range). A port the OS
 * picks with listen(0) comes from this same range, so between closing it and the server's own bind, any
 * outgoing connection on the machine may take it (seen: kube-controller-manager's bind failing in CI).
 */
function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const start = Number(low);
    return Number.isInteger(start) && start > 0 ? start : 32_768;
  } catch {
    return 32_768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function osPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * A loopback port nothing listens on at the moment, for a server about to start. It is taken below the
 * ephemeral range, where no outgoing connection lands on it before the server binds; the OS picks one only
 * when that range has no room (an ephemeral range starting too low) or nothing there is free.
 */
export async function freePort(): Promise<number> {
  const end = ephemeralRangeStart();
  if (end - lowestListeningPort >= 1_000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = randomInt(lowestListeningPort, end);
      if (handedOut.has(port)) continue;
      handedOut.add(port);
      if (await canListen(port)) return port;
    }
  }
  const port = await osPickedPort();
  handedOut.add(port);
  return port;
}
