import { createServer, type IncomingHttpHeaders } from 'node:http';
import { freePort } from '../../worker/ports';

export interface ReceivedWebhook {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: { text: string; gameday: Record<string, unknown> };
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>` — append the path the webhook's URL should carry. */
  readonly origin: string;
  /** What was sent so far, oldest first; tests empty it between cases. */
  readonly received: ReceivedWebhook[];
  /** The status the next requests get (an error status answers a body holding a secret-looking token). */
  answer: number;
  close(): void;
}

/**
 * A webhook receiver on loopback: an HTTP server that records what it is sent, as Slack's incoming webhooks
 * would take it. A real server in the test, reached by the worker's real HTTP client.
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const state = { answer: 200 };
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        headers: request.headers,
        body: JSON.parse(body) as ReceivedWebhook['body'],
      });
      response.writeHead(state.answer, { 'content-type': 'text/plain' });
      response.end(state.answer === 200 ? 'ok' : 'invalid_token: xoxb-secret-in-the-body');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${port}`,
    received,
    get answer() {
      return state.answer;
    },
    set answer(status: number) {
      state.answer = status;
    },
    close: () => server.close(),
  };
}
