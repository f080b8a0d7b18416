// Head roles on the blocks grid: each thumbnail badged with its strongest role (the head's scores
// on the text, and its induction score on a repeated random probe), a legend that says what each
// score measures, and "Find induction heads", which outlines the heads whose induction score
// passes the threshold and lists them. The grid's click mode (open a map, or knock the head out:
// webview/ablation.ts) is chosen here too.
import { html, nothing, type TemplateResult } from 'lit';
import type { HeadRolesView } from '../src/shared/experimentsProtocol';
import { ablationPanel, isAblated, toggleAblated } from './ablation';
import { experimentStatus, resultOf } from './experiments';
import { changed, state, type Run } from './state';
import { note, toggle } from './view';

type Role = 'previousToken' | 'firstToken' | 'selfToken' | 'induction';

/** A role's badge letter, name and what its score is, in one line. */
const ROLES: Record<Role, { badge: string; name: string; score: (probe: number) => string }> = {
  previousToken: { badge: 'P', name: 'previous-token', score: () => 'mean over t ≥ 1 of A[t][t−1]: attends to the token just before' },
  firstToken: { badge: 'F', name: 'first-token', score: () => 'mean over t ≥ 1 of A[t][0]: parks its attention on the first token' },
  selfToken: { badge: 'S', name: 'self', score: () => 'mean over t of A[t][t]: attends to the token itself' },
  induction: {
    badge: 'I', name: 'induction',
    score: (n) => `on ${n} random tokens repeated twice, mean over the second copy of A[t][t−${n - 1}]: attends to the token after the earlier copy of the current one, which lets the model continue a repeated pattern`,
  },
};

const headName = (layer: number, head: number) => `layer ${layer + 1}, head ${head + 1}`;

/** Whether an induction score counts as an induction head (the view's threshold). */
const inductive = (view: HeadRolesView, layer: number, head: number) => (view.scores[layer]?.[head]?.induction ?? 0) >= view.threshold;

/** A thumbnail's badge, extra classes, pressed state and title part, from the roles and the click mode. */
export function thumbExtras(run: Run, layer: number, head: number): { badge: TemplateResult | typeof nothing; classes: string; pressed: boolean | undefined; title: string } {
  const roles = resultOf(run, 'headRoles')?.view;
  const role = roles?.strongest[layer]?.[head] ?? null;
  const scores = roles?.scores[layer]?.[head];
  const found = roles !== undefined && state.experiments.findInduction && inductive(roles, layer, head);
  const ablated = isAblated(layer, head);
  const classes = [found ? 'induction-found' : '', ablated ? 'ablated' : ''].filter(Boolean).join(' ');
  const scoreText = scores
    ? `; scores: previous-token ${fmt(scores.previousToken)}, first-token ${fmt(scores.firstToken)}, self ${fmt(scores.selfToken)}, induction ${fmt(scores.induction)}`
    : '';
  const title = `${role ? `; strongest role: ${ROLES[role].name}` : roles ? '; no role reaches the threshold' : ''}${scoreText}`;
  const badge = roles ? html`<span class="role-badge" data-role=${role ?? 'none'} aria-hidden="true">${role ? ROLES[role].badge : '·'}</span>` : nothing;
  return { badge, classes, pressed: state.experiments.click === 'ablate' ? ablated : undefined, title };
}

const fmt = (x: number | null) => (x === null ? '—' : x.toFixed(2));

/** A click (or Enter/Space) on a thumbnail: open its map, or knock the head out / bring it back. */
export function clickHead(layer: number, head: number, open: () => void): void {
  if (state.experiments.click === 'ablate') toggleAblated(layer, head);
  else open();
}

/** Under the grid: the click mode, the roles' legend and "Find induction heads", then the ablation. */
export function headTools(run: Run, layers: number, heads: number): TemplateResult {
  const mode = state.experiments.click;
  return html`<div class="head-tools" id="head-tools" data-experiment="headRoles">
    <div class="model-knobs"><span class="knob"><span>a click on a head</span>${toggle(['open its map', 'knock it out'] as const, mode === 'open' ? 'open its map' : 'knock it out', (v) => {
      state.experiments.click = v === 'open its map' ? 'open' : 'ablate';
      changed('blocks');
    })}</span></div>
    ${rolesLegend(run, layers, heads)}
    ${ablationPanel(run, layers, heads)}
  </div>`;
}

function rolesLegend(run: Run, layers: number, heads: number): TemplateResult {
  const roles = resultOf(run, 'headRoles')?.view;
  const n = roles?.probeLength ?? 0;
  const find = () => {
    state.experiments.findInduction = true;
    changed('blocks');
  };
  return html`<div class="roles" id="head-roles">
    <p class="hint">Each thumbnail's badge is the head's strongest role, the score that is largest and at least ${roles ? roles.threshold : '…'} (· : none is):</p>
    <ul class="role-legend">${(Object.keys(ROLES) as Role[]).map((role) => html`<li><span class="role-badge" data-role=${role}>${ROLES[role].badge}</span> <b>${ROLES[role].name}</b>: ${ROLES[role].score(n || 20)}</li>`)}</ul>
    ${experimentStatus(run, 'headRoles', 'Scoring every head')}
    <div class="model-knobs"><button type="button" class="secondary" id="find-induction" ?disabled=${!roles} @click=${find}>Find induction heads</button></div>
    ${roles && state.experiments.findInduction ? note(inductionText(roles, layers, heads), 'note computed', 'induction-found') : nothing}
  </div>`;
}

/** Which heads pass the induction threshold, with their scores, and on what probe. */
function inductionText(roles: HeadRolesView, layers: number, heads: number): string {
  const found: { layer: number; head: number; score: number }[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (let head = 0; head < heads; head++) if (inductive(roles, layer, head)) found.push({ layer, head, score: roles.scores[layer]?.[head]?.induction ?? 0 });
  }
  found.sort((a, b) => b.score - a.score);
  const probe = `a probe of ${roles.probeLength} random token ids (seed ${roles.probeSeed}) repeated twice`;
  if (!found.length) {
    let best = { layer: 0, head: 0, score: -1 };
    roles.scores.forEach((row, layer) => row.forEach((s, head) => { if (s.induction > best.score) best = { layer, head, score: s.induction }; }));
    return `No head scores at least ${roles.threshold} on ${probe}; the highest is ${headName(best.layer, best.head)} with ${best.score.toFixed(3)}. ` +
      'Induction heads form in training (an untrained model has none).';
  }
  return `Induction heads (score ≥ ${roles.threshold} on ${probe}), outlined in the grid: ` +
    `${found.map((f) => `${headName(f.layer, f.head)} (${f.score.toFixed(3)})`).join(', ')}.`;
}
