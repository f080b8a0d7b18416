// A file-system error as a few words for a one-line message ("no such file"), not Node's
// "ENOENT: no such file or directory, open '/path'" that repeats the path the caller already shows.

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ENAMETOOLONG: 'the path is too long',
};

export function fsErrorReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && REASONS[code]) return REASONS[code];
  return err instanceof Error ? err.message : String(err);
}
