// The training panel (#training): what a run trains, its loss curves as they fall, the status and
// the Pause/Resume and Stop buttons, the samples the model writes as it learns, and the timelapse
// of its attention on one probe sentence. It draws what the host relays (validated on receipt)
// and sends the learner's buttons back; it computes nothing about the model.
import {
  parseTrainingHostMessage, type TrainingHostMessage, type TrainingWebviewMessage,
} from '../../src/shared/trainingProtocol';
import { LossChart } from './lossChart';
import { Timelapse } from './timelapse';
import { apply, type Change, type RunState } from '../../src/shared/trainingRun';
import {
  baseName, dataLine, endText, formatCount, formatDuration, formatLoss, modelLine, overfittingText, splitSample, stateText, uniformLoss,
} from './run';
import { el, hostLine } from '../dom';

const post = hostLine<TrainingWebviewMessage>().postMessage;


const root = document.getElementById('training') as HTMLElement;
const tooltip = el('div', { id: 'tooltip', hidden: true });
tooltip.setAttribute('role', 'tooltip');
document.body.append(tooltip);

let run: RunState | undefined;
let page: Page | undefined;

window.addEventListener('message', (event: MessageEvent) => {
  const message = parseTrainingHostMessage(event.data);
  if (!message) {
    post({ type: 'log', level: 'error', message: `ignored a malformed message: ${String((event.data as { type?: unknown })?.type)}` });
    return;
  }
  receive(message);
});
window.addEventListener('error', (e) => post({ type: 'log', level: 'error', message: e.message }));

function receive(message: TrainingHostMessage): void {
  const result = apply(run, message);
  run = result.run;
  if (!run || result.change === 'none') return;
  if (result.change === 'start' || !page) {
    page?.dispose();
    page = new Page(run);
  }
  page.update(result.change);
}

/** Everything on screen for one run. */
class Page {
  private readonly header = el('header', { className: 'run-header' });
  private readonly bar = el('div', { id: 'train-bar' });
  private readonly status = el('div', { id: 'train-status' });
  private readonly pauseButton = el('button', { type: 'button', id: 'train-pause', className: 'secondary' });
  private readonly stopButton = el('button', { type: 'button', id: 'train-stop', className: 'secondary' });
  private readonly analyzeButton = el('button', { type: 'button', id: 'train-analyze', className: 'primary', hidden: true });
  private readonly stopHint = el('p', { className: 'hint', id: 'train-stop-hint', textContent: 'Stop finishes the step in progress and keeps the checkpoint at the last completed step.' });
  private readonly endLine = el('p', { id: 'train-end', hidden: true });
  private readonly chartCanvas = el('canvas', { id: 'loss-chart' });
  private readonly lossNote = el('p', { className: 'note computed', id: 'loss-note', hidden: true });
  private readonly sampleList = el('ol', { id: 'sample-list', reversed: true });
  private readonly promptHint = el('p', { className: 'hint', id: 'sample-prompt', hidden: true });
  private readonly timelapse = new Timelapse(tooltip);
  private chart: LossChart | undefined;
  /** A button pressed and not yet answered by the run ('pausing', 'resuming', 'stopping'). */
  private asked: 'pause' | 'resume' | 'stop' | undefined;
  private readonly observers: { disconnect(): void }[] = [];
  private resizeTimer: number | undefined;
  private readonly onResize = () => {
    window.clearTimeout(this.resizeTimer);
    this.resizeTimer = window.setTimeout(() => this.timelapse.relayout(), 120);
  };

  constructor(private readonly run: RunState) {
    root.replaceChildren();
    root.dataset.state = 'running';
    root.dataset.runId = String(run.runId);
    this.pauseButton.addEventListener('click', () => {
      const resume = this.run.paused;
      this.asked = resume ? 'resume' : 'pause';
      post({ type: resume ? 'resume' : 'pause' });
      this.renderStatus();
    });
    this.stopButton.append(el('i', { className: 'codicon codicon-debug-stop' }), document.createTextNode(' Stop'));
    this.stopButton.title = 'Stop training: the step in progress finishes and the checkpoint at the last completed step is kept';
    this.stopButton.addEventListener('click', () => {
      this.asked = 'stop';
      post({ type: 'stop' });
      this.renderStatus();
    });
    this.analyzeButton.append(el('i', { className: 'codicon codicon-graph' }), document.createTextNode(' Analyze with this model'));
    this.analyzeButton.title = 'Analyze the editor’s selection in the playground with the model this run trained';
    this.analyzeButton.addEventListener('click', () => post({ type: 'analyzeWithModel' }));
    const buttons = el('div', { className: 'buttons' });
    buttons.append(this.pauseButton, this.stopButton, this.analyzeButton);
    this.bar.append(this.status, buttons);
    root.append(this.header, this.bar, this.stopHint, this.endLine, this.lossSection(), this.samplesSection(), this.timelapseSection());
    // Headings scrolled to stay clear of the sticky bar, whatever its height at this width.
    const sized = new ResizeObserver(() => document.documentElement.style.setProperty('--bar-height', `${this.bar.offsetHeight}px`));
    sized.observe(this.bar);
    // VS Code swaps the theme's variables and the body's class: charts and maps read colours again.
    const themed = new MutationObserver(() => {
      this.chart?.retheme();
      this.timelapse.relayout();
    });
    themed.observe(document.body, { attributes: true, attributeFilter: ['class'] });
    this.observers.push(sized, themed);
    window.addEventListener('resize', this.onResize);
    this.renderHeader();
    this.renderStatus();
  }

  dispose(): void {
    this.chart?.destroy();
    this.timelapse.dispose();
    for (const o of this.observers) o.disconnect();
    window.removeEventListener('resize', this.onResize);
  }

  update(change: Change): void {
    switch (change) {
      case 'start':
      case 'prepared':
        this.renderHeader();
        this.ensureChart();
        this.renderStatus();
        this.timelapse.update(this.run);
        return;
      case 'steps':
        this.renderLoss();
        this.renderStatus();
        return;
      case 'eval':
      case 'overfitting':
        this.renderLoss();
        return;
      case 'sample':
        this.addSample(this.run.samples.at(-1)!);
        return;
      case 'frame':
        this.timelapse.update(this.run);
        return;
      case 'saved':
      case 'paused':
        if (change === 'paused') this.asked = this.asked === 'stop' ? 'stop' : undefined;
        this.renderStatus();
        return;
      case 'end':
        this.asked = undefined;
        this.renderLoss();
        this.renderStatus();
        this.renderEnd();
        return;
      case 'none':
        return;
    }
  }

  // ---- header ----
  private renderHeader(): void {
    const { run } = this;
    const lines: HTMLElement[] = [el('h1', { textContent: `Training “${run.name}”` }),
      el('p', { className: 'meta', textContent: `corpus: ${run.corpus} · preset: ${run.preset}` })];
    if (run.info) {
      lines.push(el('p', { className: 'meta', id: 'train-model', textContent: `model: ${modelLine(run.info)}` }),
        el('p', { className: 'meta', id: 'train-data', textContent: `data: ${dataLine(run.info)}` }));
      if (run.info.init) lines.push(el('p', { className: 'meta', textContent: `starting from the weights of ${run.info.init}` }));
    } else {
      lines.push(el('p', { className: 'meta', textContent: 'Reading and tokenizing the corpus…' }));
    }
    if (run.out) {
      const out = el('p', { className: 'meta', id: 'train-out' });
      out.append('checkpoint: ', el('code', { textContent: run.out, title: run.out }));
      lines.push(out);
      const best = el('p', { className: 'meta', id: 'train-best' });
      if (run.bestFile) {
        best.append('keeps the best validation checkpoint: ', el('code', { textContent: baseName(run.bestFile), title: run.bestFile }),
          ' (written whenever an evaluation lowers the validation loss; the playground gets it when the run ends; setting llm101.train.keepBest)');
      } else {
        best.textContent = 'keeps only the last step’s checkpoint (turn on llm101.train.keepBest to keep the best validation checkpoint too)';
      }
      lines.push(best);
    }
    this.header.replaceChildren(...lines);
    const prompt = run.info?.samplePrompt;
    this.promptHint.hidden = prompt === undefined;
    if (prompt !== undefined) {
      this.promptHint.replaceChildren('The prompt is ', el('span', { className: 'prompt', textContent: prompt }), ' (in this style below); the rest of each line is the model’s.');
    }
  }

  // ---- status and buttons ----
  private renderStatus(): void {
    const { run } = this;
    const last = run.last;
    const steps = run.steps ?? last?.steps;
    const state = stateText(run);
    const parts: [string, string, string][] = [
      ['step', `step ${formatCount(last?.step ?? 0)} / ${steps === undefined ? '…' : formatCount(steps)}`, 'steps done of the run’s steps'],
      ['speed', last ? `${formatCount(last.tokensPerSecond)} tokens/s` : '– tokens/s', 'tokens trained on per second (batch × context per step)'],
      ['time', last ? `${formatDuration(last.elapsedMs)} elapsed · ${run.end ? 'finished' : `${formatDuration(last.etaMs)} left`}` : 'elapsed –', 'time so far, and the time left at the current speed'],
      ['state', this.asked === 'stop' ? 'stopping: finishing the step…' : this.asked === 'pause' ? 'pausing after this step…' : this.asked === 'resume' ? 'resuming…' : state, 'running, paused or how the run ended'],
      ['saved', run.saved ? `checkpoint saved at step ${formatCount(run.saved.step)}` : 'no checkpoint saved yet', run.saved?.file ?? 'the checkpoint is written at every evaluation, at the end, and when you stop'],
    ];
    if (run.best) parts.push(['best', `best: step ${formatCount(run.best.step)} (validation ${formatLoss(run.best.valLoss)})`, `the lowest validation loss so far, kept in ${run.best.file}`]);
    this.status.replaceChildren(...parts.map(([key, text, title]) => {
      const span = el('span', { className: `part ${key}`, textContent: text, title });
      span.dataset.part = key;
      return span;
    }));
    this.status.dataset.step = String(last?.step ?? 0);
    this.status.dataset.steps = String(steps ?? '');
    this.status.dataset.state = run.end ? run.end.state : run.paused ? 'paused' : 'running';
    if (run.saved) this.status.dataset.savedStep = String(run.saved.step);
    if (run.best) this.status.dataset.bestStep = String(run.best.step);
    // what the tests read: where the latest pause took effect, and where it was asked
    if (run.pause) {
      this.status.dataset.pausedAt = String(run.pause.step);
      if (run.pause.askedAt !== undefined) this.status.dataset.pauseAskedAt = String(run.pause.askedAt);
      if (run.pause.resumedAt !== undefined) this.status.dataset.resumedAt = String(run.pause.resumedAt);
    }
    const ended = run.end !== undefined;
    this.pauseButton.hidden = ended;
    this.stopButton.hidden = ended;
    this.stopHint.hidden = ended;
    // Stop stays available while a pause is on its way: both act within one step
    this.pauseButton.disabled = this.asked === 'stop' || (this.asked !== undefined && this.asked !== 'resume' && !run.paused) || !last;
    this.stopButton.disabled = this.asked === 'stop';
    this.pauseButton.replaceChildren(el('i', { className: `codicon codicon-${run.paused ? 'debug-continue' : 'debug-pause'}` }), document.createTextNode(run.paused ? ' Resume' : ' Pause'));
    this.pauseButton.title = run.paused ? 'Go on training from this step' : 'Pause between two steps (nothing is lost; Resume goes on)';
    this.analyzeButton.hidden = !ended || !run.end?.file;
  }

  private renderEnd(): void {
    const end = this.run.end;
    if (!end) return;
    root.dataset.state = end.state;
    this.endLine.hidden = false;
    this.endLine.className = `end ${end.state}`;
    this.endLine.dataset.state = end.state;
    this.endLine.textContent = endText(end, this.run.steps);
    if (end.stopAskedAt !== undefined) this.endLine.dataset.stopAskedAt = String(end.stopAskedAt);
    if (end.file) this.endLine.title = end.file;
  }

  // ---- loss ----
  private lossSection(): HTMLElement {
    const s = section('loss', 'Loss: how wrong the next-token guesses are');
    s.append(
      el('p', { className: 'intro', textContent:
        'At every position the model gives each token of the vocabulary a probability of coming next; the loss is −ln of the probability it gave the token that really came, averaged over the batch (cross-entropy, in nats). ' +
        'A model that guesses uniformly scores ln(vocabulary size), the dashed line: training starts near it and goes down as the model learns which tokens follow which.' }),
      el('p', { className: 'intro', textContent:
        'The thin line is the loss on each step’s random batch (noisy); the markers are evaluations on many windows: train loss on the text it learns from, validation loss on the 10% it never trains on. ' +
        'On a small corpus the validation loss stops falling and can rise while the train loss keeps going down: the model is memorising its text (overfitting) instead of learning what carries over.' }),
    );
    const box = el('div', { className: 'chart-box' });
    box.append(this.chartCanvas);
    this.chartCanvas.setAttribute('role', 'img');
    this.chartCanvas.setAttribute('aria-label', 'loss chart: x axis step, y axis cross-entropy loss (nats)');
    s.append(box, this.lossNote);
    return s;
  }

  private ensureChart(): void {
    if (this.chart || !this.run.info || !this.run.steps) return;
    this.chart = new LossChart(this.chartCanvas, this.run.steps, this.run.info.config.vocabSize);
    this.chartCanvas.dataset.uniform = uniformLoss(this.run.info.config.vocabSize).toFixed(4);
    this.renderLoss();
  }

  private renderLoss(): void {
    const { run } = this;
    if (!this.chart) this.ensureChart();
    if (!this.chart) return;
    // While it runs the axis spans every planned step (the progress shows); a stopped run's ends at its last.
    const span = run.end && run.end.step > 0 ? run.end.step : run.steps;
    if (span) this.chart.setSteps(span);
    this.chart.set(run.lossSteps, run.losses, run.evals, run.lossStride);
    // What the e2e test (and a screen reader) reads: the first and last losses drawn.
    const d = this.chartCanvas.dataset;
    d.points = String(run.losses.length);
    d.evals = String(run.evals.length);
    if (run.losses.length) {
      d.firstLoss = run.losses[0]!.toFixed(4);
      d.lastLoss = run.losses.at(-1)!.toFixed(4);
    }
    const firstEval = run.evals[0];
    const lastEval = run.evals.at(-1);
    const notes: string[] = [];
    if (firstEval && lastEval && lastEval !== firstEval) {
      notes.push(`Train loss ${formatLoss(firstEval.trainLoss)} at step ${firstEval.step} → ${formatLoss(lastEval.trainLoss)} at step ${lastEval.step}; validation ${formatLoss(firstEval.valLoss)} → ${formatLoss(lastEval.valLoss)}.`);
    }
    const over = run.overfitting;
    if (over) notes.push(overfittingText(over, run.bestFile !== undefined, run.end !== undefined));
    this.lossNote.hidden = notes.length === 0;
    this.lossNote.classList.toggle('warn', over !== undefined);
    if (over) this.lossNote.dataset.overfittingStep = String(over.step);
    this.lossNote.textContent = notes.join(' ');
  }

  // ---- samples ----
  private samplesSection(): HTMLElement {
    const s = section('samples', 'Samples: what the model writes as it learns');
    s.append(el('p', { className: 'intro', textContent:
      'Every few steps the model continues the same prompt (sampling with temperature 1 among its 25 likeliest tokens, with a fixed seed, so only the weights change). ' +
      'Newest first: at step 0 it strings random words together; as the loss falls the words start to follow each other as they do in the corpus.' }));
    s.append(this.promptHint);
    const box = el('div', { className: 'sample-box' });
    box.append(this.sampleList);
    s.append(box);
    return s;
  }

  private addSample(sample: { step: number; text: string }): void {
    const { prompt, continuation } = splitSample(sample.text, this.run.info?.samplePrompt ?? '');
    const item = el('li');
    item.dataset.step = String(sample.step);
    const text = el('span', { className: 'text' });
    if (prompt) text.append(el('span', { className: 'prompt', textContent: prompt, title: 'the prompt (given)' }));
    text.append(el('span', { className: 'continuation', textContent: continuation, title: 'what the model wrote' }));
    item.append(el('span', { className: 'step', textContent: `step ${formatCount(sample.step)}` }), text);
    this.sampleList.prepend(item);
    this.sampleList.dataset.count = String(this.run.samples.length);
  }

  // ---- timelapse ----
  private timelapseSection(): HTMLElement {
    const s = section('timelapse', 'Timelapse: attention on one sentence as training goes');
    s.append(el('p', { className: 'intro', textContent:
      'The run keeps feeding the same probe sentence to the model and saves its attention weights at steps along the way. ' +
      'Move the slider to watch them change: at step 0 the weights are nearly even over the earlier tokens; trained heads learn patterns, often looking at the previous token or at the sentence’s first token. ' +
      'Each row is a query token and shows how it shares its attention among the keys it may see (itself and the tokens before it).' }),
    this.timelapse.root);
    return s;
  }
}

function section(id: string, heading: string): HTMLElement {
  const s = el('section', { id });
  s.append(el('h2', { textContent: heading }));
  return s;
}

post({ type: 'ready' });
