// The panel's experiments (logit lens, head roles, ablation, scan, attribution, patching) on the
// model of the run it shows: the webview asks by request number, this runs them one after another
// in the engine (EngineClient.experiment cancels the one in flight, so they must not overlap),
// relays progress, and answers each with its result or with the message the section shows next
// to the control that asked. Cancel stops the scan or patching in flight.
import type { EngineClient } from '../host/engineClient';
import { CancelledError, EngineError } from '../engine/config';
import type { ExperimentQuery } from '../shared/experimentsProtocol';
import type { HostMessage } from '../shared/protocol';

export interface ExperimentAsk {
  runId: number;
  request: number;
  query: ExperimentQuery;
}

export class PanelExperiments {
  /** The experiments asked so far run in this order, each after the one before has answered. */
  private queue: Promise<void> = Promise.resolve();
  /** Asks queued or running that the learner cancelled (a queued one is answered without running). */
  private cancelled = new Set<number>();
  private running: number | undefined;
  /** Asks queued behind the one in flight, by request, with their kind. */
  private readonly waiting = new Map<number, ExperimentQuery['kind']>();
  /** The last answers (result or refusal) by request, for tests that act as the webview. */
  readonly answers = new Map<number, Extract<HostMessage, { type: 'experimentResult' | 'experimentError' }>>();
  /** The last progress of the experiment in flight: request, runs done, runs in all. */
  lastProgress: { request: number; done: number; total: number } | undefined;

  constructor(
    private readonly engine: EngineClient,
    /** The engine's trace id of run `runId` while it is the one on show, else undefined. */
    private readonly traceIdFor: (runId: number) => number | undefined,
    private readonly send: (message: HostMessage) => void,
  ) {}

  private post(message: HostMessage): void {
    if (message.type === 'experimentProgress') this.lastProgress = { request: message.request, done: message.done, total: message.total };
    if (message.type === 'experimentResult' || message.type === 'experimentError') {
      this.answers.set(message.request, message);
      // a panel asks a few dozen a session; keep the newest
      for (const old of this.answers.keys()) if (this.answers.size > 32) this.answers.delete(old);
    }
    this.send(message);
  }

  /** Queues `ask`; it runs once the experiments before it have answered. */
  run(ask: ExperimentAsk): Promise<void> {
    this.waiting.set(ask.request, ask.query.kind);
    const turn = this.queue.then(() => this.runNow(ask));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /**
   * Stops the experiment in flight and drops the long ones still waiting (the learner's Cancel),
   * or every one waiting (`all`: another run is on its way, so none of them is wanted).
   */
  cancel(all = false): void {
    for (const [request, kind] of this.waiting) if (all || kind === 'scan' || kind === 'patch') this.cancelled.add(request);
    if (this.running !== undefined) this.engine.cancelExperiment();
  }

  private async runNow({ runId, request, query }: ExperimentAsk): Promise<void> {
    this.waiting.delete(request);
    const kind = query.kind;
    const fail = (message: string, cancelled: boolean) => this.post({ type: 'experimentError', runId, request, kind, message, cancelled });
    if (this.cancelled.delete(request)) return fail('Cancelled.', true);
    const traceId = this.traceIdFor(runId);
    // a newer run is on show: its sections ask again for themselves
    if (traceId === undefined) return;
    this.running = request;
    try {
      const result = await this.engine.experiment(traceId, query, (done, total) => {
        if (this.traceIdFor(runId) !== undefined) this.post({ type: 'experimentProgress', runId, request, kind, done, total });
      });
      if (this.traceIdFor(runId) !== undefined) this.post({ type: 'experimentResult', runId, request, result });
    } catch (err) {
      if (err instanceof CancelledError) fail('Cancelled: nothing was kept of the unfinished run.', true);
      // An EngineError names the fix (`head 5 does not exist: each layer has heads 1 to 4`); any
      // other error is ours, said as it is rather than hidden.
      else fail(err instanceof EngineError || err instanceof Error ? err.message : String(err), false);
    } finally {
      this.running = undefined;
    }
  }
}
