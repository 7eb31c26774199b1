// Small DOM helpers for the banner and the panel: text only (a site's strings
// are never parsed as HTML), styles inline (the page's CSS may override them).

/** An element with attributes and children; strings become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string>,
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v)
  el.append(...children)
  return el
}

/** The box both the banner and the panel use: fixed at the bottom, readable, above the page. */
export const BOX_STYLE =
  'position:fixed;z-index:2147483000;bottom:12px;right:12px;max-width:380px;padding:12px 14px;' +
  'background:#fff;color:#111;border:1px solid #555;border-radius:8px;font:14px/1.4 system-ui,sans-serif;' +
  'box-shadow:0 2px 10px rgba(0,0,0,.25)'

/** Buttons with a visible focus ring (keyboard users). */
export const BUTTON_STYLE = 'margin:8px 8px 0 0;padding:6px 12px;font:inherit;cursor:pointer'
