/** A tiny DOM builder: `h('a', { href, class: 'x', onclick }, 'text', child)`. */

export type Child = Node | string | number | null | undefined | false | readonly Child[];
type Listener = (ev: never) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Listener | Partial<Record<string, string>>>;

const SVG = 'http://www.w3.org/2000/svg';

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  return build(document.createElement(tag), attrs, children);
}

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

function build<E extends Element>(el: E, attrs: Attrs | null | undefined, children: Child[]): E {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else if (typeof v === 'object') {
      // through CSSOM: the Content-Security-Policy (style-src 'self') refuses style attributes
      for (const [p, val] of Object.entries(v)) if (val !== undefined) (el as unknown as ElementCSSInlineStyle).style.setProperty(p, val);
    } else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element | DocumentFragment, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c as readonly Child[]);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Calls `fn` at most once per `ms`: now when it is free, else once at the end of the wait. */
export function throttle(fn: () => void, ms: number): { (): void; cancel(): void } {
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = (): void => {
    timer = undefined;
    last = Date.now();
    fn();
  };
  const t = (): void => {
    if (timer !== undefined) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
  t.cancel = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return t;
}
