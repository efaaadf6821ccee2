/** One call of the Trickle API with fetch, for the benchmarks' set-up steps; throws on 4xx and 5xx. */
export async function api(base: string, method: string, url: string, token: string | null, body?: RequestInit['body'], type?: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any -- answers read field by field
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (type) headers['content-type'] = type;
  const response = await fetch(base + url, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  if (response.status >= 400) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
