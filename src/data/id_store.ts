// The interface between a corpus and where its ids live (see corpus.ts): a token file on disk,
// or, for a Blob or stream read in a page, memory or an Origin Private File System file.

/**
 * Where a corpus's ids live (a token file on disk, or a page's memory or Origin Private File
 * System file): the bytes of its ids, `width` bytes each, read by position.
 */
export interface IdStore {
  /** The text's name in messages: its path, or a File's name. */
  readonly name: string;
  /** The token file's path, or "" where the ids are not in a file of the file system. */
  readonly tokenPath: string;
  /** Opens the ids for many positioned reads. */
  open(): IdSpan;
  /** Lets go of what the store holds (a page's file handle); a file on disk holds nothing. */
  close?(): void;
}

/** An open {@linkcode IdStore}. */
export interface IdSpan {
  /** Fills `bytes` with the ids' bytes from byte `offset` of the ids (throws if they end). */
  read(offset: number, bytes: Uint8Array): void;
  /** Closes what `open` opened. */
  close(): void;
}
