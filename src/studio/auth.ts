// Who the studio answers: requests to its own address (not a rebound name of another site),
// not sent by another site's page, and carrying the session token (the printed link's ?token=
// once, then an HttpOnly cookie, or a script's `Authorization: Bearer`), as Jupyter does.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { HttpError, type Req, type Res } from './http.js';

export class Guard {
  readonly token = randomBytes(24).toString('base64url');
  private readonly tokenBytes = Buffer.from(this.token);
  private readonly hosts = new Set<string>();
  private readonly origins = new Set<string>();
  // Named by port once it is known: cookies ignore ports, and two studios on one machine keep a cookie each.
  private cookieName = 'loom-studio';

  /** The addresses the studio answers to, once its port is known: its own host, localhost and the loopbacks. */
  listenOn(host: string, port: number): void {
    for (const h of [host, 'localhost', '127.0.0.1', '[::1]']) {
      this.hosts.add(`${h}:${port}`.toLowerCase());
      this.origins.add(`http://${h}:${port}`.toLowerCase());
    }
    this.cookieName = `loom-studio-${port}`;
  }

  /** Whether `sent` is the session token (compared in constant time). */
  private isToken(sent: string | null | undefined): boolean {
    const b = Buffer.from(sent ?? '');
    return b.length === this.tokenBytes.length && timingSafeEqual(b, this.tokenBytes);
  }

  /** The session tokens a request carries, by cookie or `Authorization: Bearer`. */
  private carried(req: Req): string[] {
    const out: string[] = [];
    for (const part of String(req.headers.cookie ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === this.cookieName) out.push(part.slice(eq + 1).trim());
    }
    const auth = /^Bearer\s+(\S+)\s*$/i.exec(String(req.headers.authorization ?? ''));
    if (auth) out.push(auth[1]);
    return out;
  }

  /**
   * Refuses (throws a 403) a request of another host, origin or without the token. A GET with
   * the link's ?token= is answered here: a cookie, and a redirect to the clean address (true).
   */
  check(req: Req, res: Res, url: URL): boolean {
    // DNS rebinding: a page of another site whose name now points here sends its own Host.
    const hostHeader = String(req.headers.host ?? '').toLowerCase();
    if (!this.hosts.has(hostHeader)) {
      throw new HttpError(403, `the studio answers only to ${[...this.hosts][0]} and localhost`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      if (origin !== undefined && !this.origins.has(origin.toLowerCase()))
        throw new HttpError(403, 'requests from other sites are refused');
    }
    const asked = url.searchParams.get('token');
    if (asked !== null) {
      if (!this.isToken(asked)) throw new HttpError(403, "this link's token is not the studio's session token");
      if (req.method === 'GET') {
        url.searchParams.delete('token');
        res.writeHead(303, {
          location: `http://${hostHeader}${url.pathname}${url.search}`,
          'set-cookie': `${this.cookieName}=${this.token}; Path=/; HttpOnly; SameSite=Strict`,
          'cache-control': 'no-store',
          'content-length': 0,
        });
        res.end();
        return true;
      }
    } else if (!this.carried(req).some((t) => this.isToken(t))) {
      throw new HttpError(403, "this request lacks the studio's session token; open the link the studio printed");
    }
    return false;
  }
}
