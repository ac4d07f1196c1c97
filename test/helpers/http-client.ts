// A raw HTTP/1.1 client for tests that must send what fetch would refuse or
// tidy up: repeated headers, unnormalised paths.
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): Record<string, unknown>;
}

/** GET/POST `path` (sent as is) with headers given as [name, value] pairs, repeats allowed. */
export function send(baseUrl: string, path: string, headers: Array<[string, string]> = [], options: { method?: string; body?: string } = {}): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: options.method ?? 'GET', path, headers: [['host', url.host], ...headers].flat() },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
