// The one helper for the few elements built by hand (a tooltip's lines, a colour bar, the training
// panel's rows); the playground's sections are lit-html templates.
export const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}): HTMLElementTagNameMap[K] =>
  Object.assign(document.createElement(tag), props);

/** A webview's line to the extension host, typed by its contract's webview -> host messages. */
export interface HostLine<Out> {
  postMessage(message: Out): void;
  /** What the page keeps across a reload of the window (the playground's text). */
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): HostLine<unknown>;

/** Called once per page (VS Code refuses a second acquireVsCodeApi). */
export function hostLine<Out>(): HostLine<Out> {
  const api = acquireVsCodeApi();
  return { postMessage: (message: Out) => api.postMessage(message), getState: () => api.getState(), setState: (s: unknown) => api.setState(s) };
}
