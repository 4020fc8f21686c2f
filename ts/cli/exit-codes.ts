// Exit statuses of every subcommand (README, "Exit status").
export const EXIT = {
  /** Done, and everything asked for was stored. */
  ok: 0,
  /** Failed: an input could not be read at all, a peer refused or failed, an engine died. */
  failed: 1,
  /** A usage or configuration error: nothing was done. */
  usage: 2,
  /** Done and stored, but some rows were quarantined (kept out of their tables; see the report). */
  quarantined: 3,
  /** Done, but rows are not stored: they wait in the spill, or the store could not be opened. */
  notStored: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
