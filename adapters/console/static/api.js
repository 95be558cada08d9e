// The console's client of tokend's JSON API (/work/shared/API.md).
//
// The license lives in sessionStorage: it is scoped to this tab and this
// origin, survives a reload, and is gone when the tab closes. It is sent as
// "Authorization: Bearer"; no cookie ever authenticates a request, so another
// site cannot make the browser send a write on the provider's behalf (CSRF).

const LICENSE_KEY = 'tokend.license';

export const session = {
  /** The signed-in license, or null. */
  get license() {
    return sessionStorage.getItem(LICENSE_KEY);
  },
  signIn(license) {
    sessionStorage.setItem(LICENSE_KEY, license);
  },
  signOut() {
    sessionStorage.removeItem(LICENSE_KEY);
    minSequence = 0;
  },
};

/** An error answer of the API: {"error": {"code", "message"}}. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /**
   * The request field the error is about. The API's invalid_argument
   * messages start with the field's name ("name: must not be empty"), so
   * that is where the field is read from; "" when the message names none.
   */
  get field() {
    const m = /^([A-Za-z][A-Za-z-]*): /.exec(this.message);
    return m ? m[1] : '';
  }

  /** The message without its leading field name, first letter capitalized. */
  get detail() {
    const s = this.field ? this.message.slice(this.field.length + 2) : this.message;
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
}

// Read-your-writes: the highest X-Sequence any write answered. Every read
// sends it as X-Min-Sequence, so the read model has applied our own writes
// before it answers (API.md "Concurrency").
let minSequence = 0;

/**
 * Calls the API. Resolves to {data, etag, sequence}; rejects with ApiError
 * (status 0 and code "network" when the service cannot be reached).
 *
 * @param {string} method
 * @param {string} path   e.g. "/v1/tokens?limit=25"
 * @param {{body?: object, ifMatch?: number, license?: string}} [opts]
 */
export async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  const license = opts.license ?? session.license;
  if (license) headers.Authorization = 'Bearer ' + license;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.ifMatch !== undefined) headers['If-Match'] = '"' + opts.ifMatch + '"';
  if (method === 'GET' && minSequence > 0) headers['X-Min-Sequence'] = String(minSequence);

  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      cache: 'no-store',
      credentials: 'omit', // nothing but the Bearer header authenticates
      redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The service cannot be reached (' + e.message + ').');
  }
  const sequence = Number(res.headers.get('X-Sequence')) || 0;
  if (sequence > minSequence) minSequence = sequence;
  const etag = res.headers.get('ETag');
  let data = null;
  if (res.status !== 204) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || 'http_' + res.status, e.message || res.statusText || 'Request failed');
  }
  return { data, etag, sequence };
}

/** Encodes one path segment (an id) for a URL. */
export const seg = (s) => encodeURIComponent(s);
