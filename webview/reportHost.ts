// The standalone report's stand-in for the extension host: src/report.ts inlines this bundle before
// the panel app's, so the app's acquireVsCodeApi() gets an API whose postMessage is answered from
// the data embedded in the page ('trace' on 'ready', 'group' on 'requestGroup', 'cells' on
// 'requestCells'). Replies are posted in a later task, as a host's would arrive.
import { parseWebviewMessage, type CellsRequest, type HostMessage, type LazyGroup, type NextTokenView } from '../src/shared/protocol';
import { clipWindow, codeValues, isMapCodes, type MapCodes } from '../src/shared/codes';
import {
  BINARY_TAGS, REPORT_NEXT_TOKENS_ID, REPORT_NEXT_TOKENS_KEPT, REPORT_TRACE_ID, ReportGroupSchema, ReportNextTokensSchema, reportGroupId, type ReportGroup,
} from '../src/shared/reportPage';
import { parse } from '../src/shared/wire';

/** Rebuilds the typed arrays src/report.ts wrote as tagged base64. */
function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (!value || typeof value !== 'object') return value;
  const tagged = value as Record<string, unknown>;
  for (const [kind, tag] of Object.entries(BINARY_TAGS)) {
    const base64 = tagged[tag];
    if (typeof base64 !== 'string') continue;
    const bin = atob(base64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return kind === 'float32' ? new Float32Array(bytes.buffer) : bytes;
  }
  return Object.fromEntries(Object.entries(tagged).map(([k, v]) => [k, revive(v)]));
}

/** The JSON element `id` of the page, revived; undefined when the page has none. */
function embedded(id: string): unknown {
  const text = document.getElementById(id)?.textContent;
  return text ? revive(JSON.parse(text)) : undefined;
}

// Parsed on first request and kept: a group's cells are asked for many times while hovering.
const groups = new Map<LazyGroup, ReportGroup | undefined>();
function groupData(group: LazyGroup): ReportGroup | undefined {
  if (!groups.has(group)) groups.set(group, parse(ReportGroupSchema, embedded(reportGroupId(group))));
  return groups.get(group);
}

/** The coded matrix at a path the panel asks cells of ("causal.maskedScores", "multiHead.heads.3.weights"). */
function codesAt(path: string): MapCodes | undefined {
  const match = /^(?:(simple|selfAttention|causal)|multiHead\.heads\.(\d+))\.([A-Za-z]+)$/.exec(path);
  if (!match) return undefined;
  const [, stage, head, key] = match;
  const group = groupData((stage ?? `head:${head}`) as LazyGroup);
  const map = group?.tooltip[path] ?? Object.entries(group?.data ?? {}).find(([name]) => name === key)?.[1];
  return isMapCodes(map) ? map : undefined;
}

/** Answers a 'requestCells' as the host does (window clipped at the edges), from display codes. */
function cellsReply({ runId, paths, r0, c0, rows, cols }: CellsRequest): HostMessage | undefined {
  const maps = paths.map(codesAt);
  const clipped = clipWindow(maps, r0, c0, rows, cols);
  if (!clipped) return undefined;
  const { rows: h, cols: w } = clipped;
  const decoded = (maps as MapCodes[]).map((m) => codeValues(m, r0, c0, h, w));
  return {
    type: 'cells', runId, paths, r0, c0, rows: h, cols: w,
    values: decoded.map((d) => d.values), approximate: { floors: decoded.map((d) => d.floor) },
  };
}

let nextTokens: NextTokenView['tokens'][] | undefined;
/**
 * A next-token view from the page's kept tokens (temperature 1, the most likely
 * REPORT_NEXT_TOKENS_KEPT of each position): other temperatures are answered at temperature 1,
 * and a top-k cut keeps the k most likely, each as its share of their total (what softmax over
 * the k kept logits gives). The section says the report's knobs are limited.
 */
function nextTokenReply(position: number, topK: number | null): NextTokenView | undefined {
  nextTokens ??= parse(ReportNextTokensSchema, embedded(REPORT_NEXT_TOKENS_ID));
  const kept = nextTokens?.[position];
  if (!kept) return undefined;
  if (topK === null) return { position, temperature: 1, topK: null, tokens: kept.slice(0, 10) };
  const k = Math.min(topK, REPORT_NEXT_TOKENS_KEPT);
  const top = kept.slice(0, k);
  const total = top.reduce((sum, t) => sum + t.probability, 0) || 1;
  return { position, temperature: 1, topK: k, tokens: top.slice(0, 10).map((t) => ({ ...t, probability: t.probability / total })) };
}

const reply = (message: HostMessage) => setTimeout(() => window.postMessage(message, '*'), 0);

let state: unknown;
let runId: number | undefined;
(window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => ({
  postMessage(raw: unknown) {
    const message = parseWebviewMessage(raw);
    if (!message) return;
    switch (message.type) {
      case 'ready': {
        const trace = embedded(REPORT_TRACE_ID) as Extract<HostMessage, { type: 'trace' }>;
        runId = trace.runId;
        reply(trace);
        return;
      }
      case 'requestGroup': {
        const group = message.runId === runId ? groupData(message.group) : undefined;
        if (group) {
          const { tooltip: _, ...data } = group;
          reply({ type: 'group', runId: message.runId, ...data });
        } else console.warn(`[llm101 report] no group ${message.group} in this report`);
        return;
      }
      case 'requestCells': {
        const cells = message.runId === runId ? cellsReply(message) : undefined;
        if (cells) reply(cells);
        else console.warn(`[llm101 report] no cells ${message.r0},${message.c0} of ${message.paths.join(', ')} in this report`);
        return;
      }
      case 'requestNextToken': {
        const view = message.runId === runId ? nextTokenReply(message.position, message.topK) : undefined;
        if (view) reply({ type: 'nextToken', runId: message.runId, view });
        return;
      }
      case 'log':
        (message.level === 'error' ? console.error : console.info)(`[llm101] ${message.message}`);
        return;
      default:
        return; // knobs, exports and hover echoes need the extension: the report hides their controls
    }
  },
  getState: () => state,
  setState: (s: unknown) => { state = s; },
});
document.body.dataset.mode = 'report';
