// A hovered token (a chip, or a map's row and column) is lit everywhere: in every map, in the
// chips, in the editor (through the host), and it picks the position the next token follows.
import { maps } from './elements';
import { post } from './host';
import { selectPosition } from './nextToken';
import { changed, state } from './state';

/** Lights the query token (a row) and the key token (a column); `fromPanel`: the learner hovered here. */
export function hover(query: number | null, key: number | null, fromPanel: boolean): void {
  // while a newer run's trace is on its way, its chips light up; nothing else is drawn to light
  const run = state.starting ?? state.run;
  if (!run) return;
  for (const map of maps()) map.highlight(query, key ?? query);
  if (run.hot.query !== query || run.hot.key !== key) {
    run.hot = { query, key };
    changed('tokens');
  }
  if (!fromPanel) return;
  // the host maps an index to the text of the run it has on show, not yet this one's
  if (run === state.starting) return;
  // The token hovered last is the one whose next token the model section shows.
  if (query !== null) selectPosition(query);
  post(key !== null && key !== query ? { type: 'hoverToken', index: query, key } : { type: 'hoverToken', index: query });
}
