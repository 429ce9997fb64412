// Exit codes shared by every command; documented in the README.
export const EXIT = {
  ok: 0, // done; for `check`, the config is valid (warnings allowed)
  invalid: 1, // the config (or another input) has errors
  usage: 2, // wrong command-line usage
  runtime: 3, // the command could not do its work (daemon unreachable, I/O failure, internal error)
} as const;
