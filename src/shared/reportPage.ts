// The standalone report's page format: src/report.ts writes it, webview/reportHost.ts reads it.
import * as v from 'valibot';
import { GroupDataSchema, NextTokenViewSchema, type LazyGroup } from './protocol';
import { MapCodesSchema } from './codes';

/**
 * `llm101 analyze --html` writes the 'trace' message and each lazy group into JSON elements of the
 * page; its stand-in host (webview/reportHost.ts) answers the panel from them. Typed arrays are
 * written as { [BINARY_TAGS.float32 | BINARY_TAGS.uint8]: base64 of their little-endian bytes }.
 */
export const REPORT_TRACE_ID = 'llm101-trace';
export const reportGroupId = (group: LazyGroup) => `llm101-group-${group.replace(':', '-')}`;
export const BINARY_TAGS = { float32: '$f32', uint8: '$u8' } as const;

/** A lazy group in the report: what the host would send, and what its tooltips read (tooltipCodes). */
export const ReportGroupSchema = v.intersect([GroupDataSchema, v.object({ tooltip: v.record(v.string(), MapCodesSchema) })]);
export type ReportGroup = v.InferOutput<typeof ReportGroupSchema>;

/**
 * The report's next tokens: per position, the REPORT_NEXT_TOKENS_KEPT most likely at temperature 1
 * ({ id, text, probability }[], most likely first), from which its stand-in host answers
 * 'requestNextToken' (temperature 1 only; top-k up to that many, renormalised over the kept ones).
 */
export const REPORT_NEXT_TOKENS_ID = 'llm101-next-tokens';
export const REPORT_NEXT_TOKENS_KEPT = 20;
export const ReportNextTokensSchema = v.array(NextTokenViewSchema.entries.tokens);
export type ReportNextTokens = v.InferOutput<typeof ReportNextTokensSchema>;
