// The engine process's shared tables, read by its threads between steps (they compute
// synchronously and read no messages until they finish): the cancel table (SharedCancel, one cell
// per request id mod CANCEL_CELLS), the pause table laid out the same way plus one cell that says
// the window is closing, and the training runs' progress.
import { CANCEL_CELLS } from '../engine/config';

/** Cell of the pause table that holds 1 once the extension host has asked the engine to shut down. */
export const SHUTDOWN_CELL = CANCEL_CELLS;

/** Int32 cells of the pause table: one per request slot, and SHUTDOWN_CELL. */
export const PAUSE_CELLS = CANCEL_CELLS + 1;

/**
 * The progress table: cell `slot` holds the steps a training run has completed; cell
 * CANCEL_CELLS + slot the steps it had completed when its latest pause or stop arrived, so the
 * run reports how many steps it took to act on it (at most the one in progress).
 */
export const PROGRESS_CELLS = 2 * CANCEL_CELLS;
export const ASKED_AT = CANCEL_CELLS;
