// The one helper for the few elements built by hand (a tooltip's lines, a colour bar, the training
// panel's rows); the playground's sections are lit-html templates.
export const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}): HTMLElementTagNameMap[K] =>
  Object.assign(document.createElement(tag), props);
