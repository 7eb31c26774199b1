// A tiny element builder: text goes in as text nodes, never as HTML (everything shown comes from peers).

type Child = Node | string | number | null | undefined

/** Makes an element with attributes and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue
    e.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(typeof c === 'number' ? String(c) : c)
  return e
}

/** Replaces a table body's rows. */
export function setRows(tbody: HTMLTableSectionElement, rows: HTMLTableRowElement[]): void {
  tbody.replaceChildren(...rows)
}

/** A peer id shortened for a table cell; the full id is its title. */
export function shortId(id: string): HTMLElement {
  return el('code', { title: id }, id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id)
}

/** The element with this id (the page's own markup has it). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id)
  if (!e) throw new Error(`#${id} is missing from the page`)
  return e as T
}
