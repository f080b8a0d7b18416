// `llm101 analyze --html OUT.html`: one self-contained HTML file with the panel's own webview
// bundle and stylesheet inlined and the trace embedded, so it opens offline in any browser. A
// small stand-in host (webview/reportHost.ts) answers the panel's messages from the page.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ModelAnalysis, type TraceResult } from './engine/pipeline';
import { blockThumbs, modelRun, nextTokenView, panelBlock, panelModel, type ModelRun } from './worker/modelView';
import { panelGroup, toPanelTrace, tooltipCodes } from './worker/panelTrace';
import type { Trace } from './engine/types';
import type { HostMessage, LazyGroup, PanelTrace } from './shared/protocol';
import { BINARY_TAGS, REPORT_NEXT_TOKENS_ID, REPORT_NEXT_TOKENS_KEPT, REPORT_TRACE_ID, reportGroupId, type ReportGroup, type ReportNextTokens } from './shared/reportPage';

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
 * Typed arrays travel as tagged base64 of their little-endian bytes (exact, and −∞ survives),
 * revived by webview/reportHost.ts.
 */
function encodeBinary(value: unknown): unknown {
  if (value instanceof Float32Array || value instanceof Uint8Array) {
    const tag = value instanceof Float32Array ? BINARY_TAGS.float32 : BINARY_TAGS.uint8;
    return { [tag]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(encodeBinary);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeBinary(v)]));
  }
  return value;
}

/** A JSON element of the page; every '<' escaped so that no "</script>" inside ends it early. */
const jsonElement = (id: string, value: unknown) =>
  `<script type="application/json" id="${id}">${JSON.stringify(encodeBinary(value)).replace(/</g, '\\u003c')}</script>`;

export interface ReportInput {
  result: TraceResult;
  title: string;
  text: string;
  /** The model on the same text (Analyzer.analyzeModel), for the model sections; or why it could not run. */
  model?: ModelAnalysis | { error: string };
}

/**
 * What the model sections of a report ask for, computed once: the 'blocks' thumbnails, every
 * `block:L`, and the REPORT_NEXT_TOKENS_KEPT most likely next tokens of every position at
 * temperature 1 (the report has no engine to ask for other temperatures: its next-token section
 * says so).
 */
function modelParts(run: ModelRun): { groups: { group: LazyGroup; value: ReportGroup }[]; nextTokens: ReportNextTokens } {
  const groups: { group: LazyGroup; value: ReportGroup }[] = [{ group: 'blocks', value: { group: 'blocks', data: blockThumbs(run), tooltip: {} } }];
  for (let layer = 0; layer < run.model.config.layers; layer++) {
    const block = panelBlock(run, layer);
    if (block) groups.push({ group: `block:${layer}`, value: { group: `block:${layer}`, data: block, tooltip: {} } });
  }
  const T = run.forward.finalNorm.rows;
  const nextTokens = Array.from({ length: T }, (_, position) => nextTokenView(run, position, 1, null, REPORT_NEXT_TOKENS_KEPT).tokens);
  return { groups, nextTokens };
}

/**
 * The groups a long text's panel trace leaves out (the token and position embeddings, every T×T stage and head), each as the host
 * would send it plus what its tooltips read, as display codes; hovered and zoomed cells of these
 * maps show the codes' values, marked ≈. Exact float32 instead would make a report at default
 * settings (dim 28, 7 heads) about 24 MB rather than 6.8 MB at 512 tokens, and 360 MB rather
 * than 92 MB at 2,048.
 */
function lazyGroups(trace: PanelTrace, full: Trace): { group: LazyGroup; value: ReportGroup }[] {
  const embeddings: LazyGroup[] = trace.embeddings.token === null ? ['embeddings'] : [];
  const stages = (['simple', 'selfAttention', 'causal'] as const).filter((stage) => trace[stage] === null);
  const heads = trace.multiHead.heads.flatMap((head, h): LazyGroup[] => (head === null ? [`head:${h}`] : []));
  return [...embeddings, ...stages, ...heads].map((group) => {
    const data = panelGroup(full, group);
    if (!data) throw new Error(`the trace has no ${group} to put in the report`);
    return { group, value: { ...data, tooltip: tooltipCodes(full, group) } };
  });
}

/** The report's HTML; `packageRoot` holds dist/webview.js, dist/reportHost.js and media/panel.css. */
export function buildReport(input: ReportInput, packageRoot: string): string {
  const read = (...p: string[]) => {
    const file = path.join(packageRoot, ...p);
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run build first`);
    return fs.readFileSync(file, 'utf8');
  };
  // (T, d) maps stay exact: only the T×T ones are too big for float32 in a file.
  const trace = toPanelTrace(input.result);
  const analysis = input.model;
  const run: ModelRun | undefined = analysis && 'model' in analysis
    ? modelRun(analysis)
    : undefined;
  const model = run && modelParts(run);
  if (run) trace.model = panelModel(run);
  else if (analysis && 'error' in analysis) trace.modelError = analysis.error;
  const message: HostMessage = { type: 'trace', runId: 1, title: input.title, source: input.text, trace, elapsedMs: input.result.elapsedMs };
  const groups = [...lazyGroups(trace, input.result.trace), ...(model?.groups ?? [])].map(({ group, value }) => jsonElement(reportGroupId(group), value));
  if (model) groups.push(jsonElement(REPORT_NEXT_TOKENS_ID, model.nextTokens));
  const safeTitle = input.title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const script = (file: string) => `<script>${read('dist', file).replace(/<\/script/gi, '<\\/script')}</script>`;
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
${jsonElement(REPORT_TRACE_ID, message)}
${groups.join('\n')}
${script('reportHost.js')}
${script('webview.js')}
</body>
</html>
`;
}
