// The page's small helpers: elements by id, the studio's JSON API, file addresses, scripts.

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}
export const field = (id: string): HTMLInputElement => $<HTMLInputElement>(id);
export const optional = (id: string): HTMLElement | null => document.getElementById(id);

/** An element with its class and text (never markup). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

// The studio's session cookie (HttpOnly, from the link it printed) goes with every same-origin request.
export async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body) headers['content-type'] = 'application/json';
  const r = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data as T;
}

/**
 * Shows a picture the studio draws (`url`) in `img`, through a blob so that a refusal is read:
 * its sentence goes in the placeholder beside the image (.empty) instead of a broken image.
 */
export async function showPicture(img: HTMLImageElement, url: string): Promise<void> {
  const r = await fetch(url);
  if (!r.ok) {
    const error = ((await r.json().catch(() => ({}))) as { error?: string }).error ?? r.statusText;
    clearPicture(img, error);
    return;
  }
  const old = img.src;
  img.src = URL.createObjectURL(await r.blob());
  if (old.startsWith('blob:')) URL.revokeObjectURL(old);
  const note = img.nextElementSibling as HTMLElement | null;
  if (note?.dataset.text) {
    note.textContent = note.dataset.text;
    note.classList.remove('failed');
  }
}

/** Takes the picture away; its placeholder (the .empty after it) says `why`, or what it said before. */
export function clearPicture(img: HTMLImageElement, why?: string): void {
  if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
  img.removeAttribute('src');
  const note = img.nextElementSibling;
  if (why !== undefined && note instanceof HTMLElement && note.classList.contains('empty')) {
    note.dataset.text ??= note.textContent ?? '';
    note.textContent = why;
    note.classList.add('failed');
  }
}

export const fileUrl = (f: string): string => '/files/' + f.split('/').map(encodeURIComponent).join('/');

/** A file the studio stores as video (its uploads and outputs). */
export const isVideo = (file: string): boolean => /\.(mp4|webm|mov|mkv)$/i.test(file);

/** A status line of a form (its #<name>-status). */
export function setStatus(name: string, text: string, cls = ''): void {
  const s = optional(name + '-status');
  if (!s) return;
  s.textContent = text;
  s.className = 'status ' + cls;
}

/** A script of the studio's, run once; resolves when it has run. */
export function loadScript(src: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src} from the studio`));
    document.head.append(script);
  });
}

/** Seconds as a few words: "40 s", "3 min". */
export const secondsWords = (sec: number): string =>
  sec < 90 ? Math.round(sec) + ' s' : Math.round(sec / 60) + ' min';
/** The time left as a few words: "about 40 s left", "about 3 min left". */
export const leftWords = (sec: number): string => 'about ' + secondsWords(sec) + ' left';
