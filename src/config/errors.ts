/** A configuration problem. `path` names the key (e.g. `backends[1].connections_file_path`). */
export class ConfigError extends Error {
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'ConfigError';
    this.path = path;
  }
}
