// `llm101 analyze --html OUT.html`: one self-contained HTML file with the panel's own webview
// bundle and stylesheet inlined and the trace embedded, so it opens offline in any browser.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostMessage, PanelTrace } from './shared/protocol';

/** Default theme colours (VS Code's Dark Modern / Light Modern), chosen by the browser's scheme. */
const THEME = `
:root {
  --vscode-font-family: system-ui, -apple-system, "Segoe UI", sans-serif; --vscode-font-size: 13px;
  --vscode-editor-font-family: ui-monospace, "Cascadia Mono", "DejaVu Sans Mono", monospace;
  --vscode-foreground: #cccccc; --vscode-descriptionForeground: #9d9d9d; --vscode-editor-background: #1f1f1f;
  --vscode-focusBorder: #0078d4; --vscode-panel-border: #2b2b2b; --vscode-textCodeBlock-background: #2b2b2b;
  --vscode-editor-selectionBackground: #264f78; --vscode-editor-inactiveSelectionBackground: #3a3d41;
  --vscode-editorHoverWidget-background: #202020; --vscode-editorHoverWidget-border: #454545;
  --vscode-button-background: #0078d4; --vscode-button-foreground: #ffffff; --vscode-errorForeground: #f85149;
  --vscode-editorWarning-foreground: #cca700;
}
@media (prefers-color-scheme: light) {
  :root {
    --vscode-foreground: #3b3b3b; --vscode-descriptionForeground: #717171; --vscode-editor-background: #ffffff;
    --vscode-panel-border: #e5e5e5; --vscode-textCodeBlock-background: #f0f0f0;
    --vscode-editor-selectionBackground: #add6ff; --vscode-editor-inactiveSelectionBackground: #e5ebf1;
    --vscode-editorHoverWidget-background: #f8f8f8; --vscode-editorHoverWidget-border: #c8c8c8;
    --vscode-errorForeground: #e51400; --vscode-editorWarning-foreground: #bf8803;
  }
}
body[data-mode="report"] #knobs, body[data-mode="report"] button.icon { display: none; }
`;

/**
 * Matrices travel as base64 little-endian float32 (exact, and -Infinity survives), rebuilt into
 * Float32Arrays by the loader before the trace is handed to the panel app as a 'trace' message.
 */
function encodeTrace(value: unknown): unknown {
  if (value instanceof Float32Array) {
    return { $f32: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(encodeTrace);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeTrace(v)]));
  }
  return value;
}

const LOADER = `
(function () {
  function decode(v) {
    if (Array.isArray(v)) return v.map(decode);
    if (v && typeof v === 'object') {
      if (typeof v.$f32 === 'string') {
        var bin = atob(v.$f32), bytes = new Uint8Array(bin.length);
        for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        return new Float32Array(bytes.buffer);
      }
      var out = {};
      for (var k in v) out[k] = decode(v[k]);
      return out;
    }
    return v;
  }
  var state;
  window.acquireVsCodeApi = function () {
    return {
      postMessage: function (m) {
        if (m && m.type === 'ready') {
          var message = decode(JSON.parse(document.getElementById('llm101-trace').textContent));
          setTimeout(function () { window.postMessage(message, '*'); }, 0);
        }
      },
      getState: function () { return state; },
      setState: function (s) { state = s; },
    };
  };
  document.body.dataset.mode = 'report';
})();`;

export interface ReportInput {
  trace: PanelTrace;
  title: string;
  text: string;
  elapsedMs: number;
}

/** The report's HTML; `packageRoot` holds dist/webview.js and media/panel.css. */
export function buildReport(input: ReportInput, packageRoot: string): string {
  const read = (...p: string[]) => {
    const file = path.join(packageRoot, ...p);
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run build first`);
    return fs.readFileSync(file, 'utf8');
  };
  const message: HostMessage = { type: 'trace', runId: 1, title: input.title, source: input.text, trace: input.trace, elapsedMs: input.elapsedMs };
  // </script> inside JSON would end the element early: escape every '<'.
  const data = JSON.stringify(encodeTrace(message)).replace(/</g, '\\u003c');
  const safeTitle = input.title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const script = read('dist', 'webview.js').replace(/<\/script/gi, '<\\/script');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>LLM 101: ${safeTitle}</title>
<style>${THEME}
${read('media', 'panel.css')}</style>
</head>
<body>
<div id="app" data-state="loading"><p class="placeholder">Loading…</p></div>
<script type="application/json" id="llm101-trace">${data}</script>
<script>${LOADER}</script>
<script>${script}</script>
</body>
</html>
`;
}
