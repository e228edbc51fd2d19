/**
 * A tiny element builder, enough for a gallery of a few views without a framework.
 */

/** Properties set on a new element: attributes, `on*` listeners, `className`, `text`. */
export type Props = Record<string, string | number | boolean | undefined | EventListener>;

/** A child: nodes are appended, strings become text, false/undefined/null are skipped. */
export type Child = Node | string | false | null | undefined;

/** Creates an element; `onclick: fn` adds a listener, booleans toggle attributes. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'className') element.className = String(value);
    else if (key === 'text') element.textContent = String(value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

/** Appends children, skipping empty ones. */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === false || child === null || child === undefined) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** Looks up an element the page markup must contain; a missing one is a build mistake. */
export function required<T extends HTMLElement>(selector: string, root: ParentNode = document): T {
  const element = root.querySelector<T>(selector);
  if (!element) throw new Error(`the page has no ${selector}`);
  return element;
}
