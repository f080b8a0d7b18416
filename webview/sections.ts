// The panel's sections, in the order the page shows them. To add a section: write a function
// `(run: Run) => TemplateResult` (see webview/view.ts for headings, figures, charts and notes)
// and add an entry here; `shown` hides it for runs it does not apply to, `draws` names the lazily
// sent groups it draws (when one arrives it is drawn again). A section that keeps learner choices
// puts them in webview/state.ts and calls changed(itsId) after changing them.
import type { TemplateResult } from 'lit';
import type { LazyGroup } from '../src/shared/protocol';
import { causalSection, headsSection, layerNormSection } from './attention';
import { blocksSection, feedForwardSection } from './model';
import { attributionSection } from './attribution';
import { isReport } from './host';
import { lensSection } from './lens';
import { patchingSection } from './patching';
import { nextTokenSection } from './nextToken';
import { embeddingsSection, selfSection, simpleSection, tokensSection } from './stages';
import type { Run } from './state';

export interface SectionEntry {
  /** The section element's id (the walkthrough's reveal and the host's error messages name it). */
  id: string;
  view(run: Run): TemplateResult;
  /** Whether the section is on the page for this run (absent: always). */
  shown?(run: Run): boolean;
  /** Whether a lazily sent group belongs to this section (it is drawn again when one arrives). */
  draws?(group: LazyGroup): boolean;
}

/** The model's sections follow when a model ran, or say why it could not. */
const modelRan = (run: Run) => run.trace.model !== undefined || run.trace.modelError !== undefined;
/** The experiments ask the engine to run the model again: in the panel, not in the standalone report. */
const canExperiment = (run: Run) => run.trace.model !== undefined && !isReport();

export const SECTIONS: readonly SectionEntry[] = [
  { id: 'tokens', view: tokensSection },
  { id: 'embeddings', view: embeddingsSection, draws: (g) => g === 'embeddings' },
  { id: 'attention-simple', view: simpleSection, draws: (g) => g === 'simple' },
  { id: 'attention-self', view: selfSection, draws: (g) => g === 'selfAttention' },
  { id: 'attention-causal', view: causalSection, draws: (g) => g === 'causal' },
  { id: 'attention-heads', view: headsSection, draws: (g) => g.startsWith('head:') || g === 'multiHeadOut' },
  { id: 'layernorm', view: layerNormSection },
  { id: 'feed-forward', view: feedForwardSection, shown: modelRan },
  { id: 'blocks', view: blocksSection, shown: modelRan, draws: (g) => g === 'blocks' || g.startsWith('block:') },
  { id: 'next-token', view: nextTokenSection, shown: modelRan },
  { id: 'logit-lens', view: lensSection, shown: canExperiment },
  { id: 'attribution', view: attributionSection, shown: canExperiment },
  { id: 'patching', view: patchingSection, shown: canExperiment },
];
