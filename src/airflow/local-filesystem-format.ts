// Parsing for Airflow's LocalFilesystemBackend
// (airflow-core/src/airflow/secrets/local_filesystem.py, apache-airflow 3.3.2),
// from a file's name and text; the caller reads the file. The text is taken as
// Python's open() would hand it over: universal newlines ("\r\n", "\r" -> "\n").
// Messages follow Airflow's exception texts but never contain file content:
// a YAML parser error (whose Python text quotes the offending line) is reduced
// to its line number and a generic reason.

import { connectionFromFields, connectionFromUri, type Connection } from './connection.ts';
import { PyDate, PyFloat, PyJsonDecodeError, pyFloatRepr, pyJsonLoads, pythonJsonDumps, pyTypeName, type PyValue } from './python-json.ts';
import { isPyWhitespace, pySplitlines, pyStrRepr, pyUniversalNewlines } from './python-text.ts';
import { isYamlTopLevelMapping, pyYamlSafeLoad, YamlLoadError, type YamlKey } from './yaml-safe-load.ts';

export class FileParseError extends Error {
  readonly code: string;
  readonly line?: number;
  constructor(code: string, message: string, line?: number) {
    super(message);
    this.name = 'FileParseError';
    this.code = code;
    if (line !== undefined) this.line = line;
  }
}

interface SyntaxProblem {
  line: number | null;
  message: string;
}

const FORMATS = ['env', 'json', 'yaml', 'yml'] as const;
type Format = (typeof FORMATS)[number];

/** `Path(file_path).suffix.lstrip(".").lower()` (PurePosixPath, Python 3.11). */
function fileFormat(fileName: string): Format {
  const parts = fileName.split('/').filter((p) => p !== '' && p !== '.');
  const name = parts[parts.length - 1] ?? '';
  const dot = name.lastIndexOf('.');
  const suffix = dot > 0 && dot < name.length - 1 ? name.slice(dot) : '';
  const ext = suffix.replace(/^\.+/, '').toLowerCase();
  if ((FORMATS as readonly string[]).includes(ext)) return ext as Format;
  throw new FileParseError(
    'unsupported_file_type',
    `Unsupported file format. The file must have one of the following extensions: ${FORMATS.map((f) => '.' + f).join(' ')}`,
  );
}

/** AirflowFileParseException.__str__ (without the tty-only code snippet). */
function parseException(fileName: string, problems: SyntaxProblem[]): FileParseError {
  let text = `Failed to load the secret file.\nFilename: ${fileName}\n\n`;
  problems.forEach((p, i) => {
    text += `${'='.repeat(20)} Parse error ${String(i + 1).padStart(3)} ${'='.repeat(20)}\n${p.message}\n`;
    if (p.line) text += `Line number:  ${p.line}\n`;
  });
  const line = problems[0]?.line;
  return new FileParseError('file_parse_error', text, line ?? undefined);
}

/** _parse_env_file: KEY=VALUE lines; every value is collected into a list per key. */
function parseEnv(content: string): { entries: Array<[YamlKey, unknown]>; problems: SyntaxProblem[] } {
  const secrets = new Map<string, string[]>();
  const problems: SyntaxProblem[] = [];
  pySplitlines(content).forEach((line, index) => {
    const lineNo = index + 1;
    if (!line) return;
    // COMMENT_PATTERN = re.compile(r"\s*#.*"), matched at the start of the line.
    let i = 0;
    while (i < line.length && isPyWhitespace(line[i]!)) i++;
    if (line[i] === '#') return;
    const eq = line.indexOf('=');
    if (eq === -1) {
      problems.push({ line: lineNo, message: 'Invalid line format. The line should contain at least one equal sign ("=").' });
      return;
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (!key) {
      problems.push({ line: lineNo, message: 'Invalid line format. Key is empty.' });
      return;
    }
    if (!value) {
      problems.push({ line: lineNo, message: 'Invalid line format. Value is empty.' });
      return;
    }
    const list = secrets.get(key);
    if (list) list.push(value);
    else secrets.set(key, [value]);
  });
  return { entries: [...secrets], problems };
}

function parseJson(content: string): { entries: Array<[YamlKey, unknown]>; problems: SyntaxProblem[] } {
  if (!content) return { entries: [], problems: [{ line: 1, message: 'The file is empty.' }] };
  let value: PyValue;
  try {
    value = pyJsonLoads(content);
  } catch (e) {
    if (e instanceof PyJsonDecodeError) return { entries: [], problems: [{ line: e.lineno, message: e.msg }] };
    // A ValueError that is not a JSONDecodeError escapes Airflow's handler.
    throw new FileParseError('file_parse_error', 'The JSON file could not be decoded.');
  }
  if (!(value instanceof Map)) return { entries: [], problems: [{ line: 1, message: 'The file should contain the object.' }] };
  return { entries: [...value], problems: [] };
}

function parseYaml(content: string): { entries: Array<[YamlKey, unknown]>; problems: SyntaxProblem[] } {
  if (!content) return { entries: [], problems: [{ line: 1, message: 'The file is empty.' }] };
  let value: unknown;
  try {
    value = pyYamlSafeLoad(content);
  } catch (e) {
    if (e instanceof YamlLoadError) {
      // Airflow reports problem_mark.line, which is 0-based, or -1 without a mark.
      return { entries: [], problems: [{ line: e.line ?? -1, message: e.message }] };
    }
    throw e;
  }
  if (!isYamlTopLevelMapping(value)) return { entries: [], problems: [{ line: 1, message: 'The file should contain the object.' }] };
  return { entries: [...value.entries] as Array<[YamlKey, unknown]>, problems: [] };
}

/** _parse_secret_file: every top-level key with its value as parsed (keys may be non-strings in YAML). */
function parseSecretFile(fileName: string, rawContent: string): { format: Format; entries: Array<[YamlKey, unknown]> } {
  const format = fileFormat(fileName);
  const content = pyUniversalNewlines(rawContent);
  const parsed = format === 'env' ? parseEnv(content) : format === 'json' ? parseJson(content) : parseYaml(content);
  if (parsed.problems.length > 0) throw parseException(fileName, parsed.problems);
  return { format, entries: parsed.entries };
}

/** str(key) for a message. */
function keyText(key: YamlKey): string {
  if (typeof key === 'string') return key;
  if (key === null) return 'None';
  if (key === true) return 'True';
  if (key === false) return 'False';
  if (key instanceof PyFloat) return pyFloatRepr(key.value);
  if (key instanceof PyDate) return key.hasTime ? key.date.toISOString() : key.date.toISOString().slice(0, 10);
  return key.toString();
}

function pyListRepr(keys: YamlKey[]): string {
  return `[${keys.map((k) => (typeof k === 'string' ? pyStrRepr(k) : keyText(k))).join(', ')}]`;
}

/**
 * load_variables. Only str keys are returned: get_variable looks keys up by a
 * str, so a YAML key like `123` (an int) is never found by Airflow either.
 * Values that are not strings (dicts, lists, numbers) are returned as parsed.
 */
export function parseVariablesFile(fileName: string, content: string): Map<string, unknown> {
  const { format, entries } = parseSecretFile(fileName, content);
  if (format === 'env') {
    const invalid = entries.filter(([, v]) => Array.isArray(v) && v.length !== 1).map(([k]) => k);
    if (invalid.length > 0) {
      throw new FileParseError('variable_not_unique', `The "${fileName}" file contains multiple values for keys: ${pyListRepr(invalid)}`);
    }
    return new Map(entries.filter((e): e is [string, string[]] => typeof e[0] === 'string').map(([k, v]) => [k, v[0]]));
  }
  return stringKeyed(entries);
}

/**
 * load_configs_dict (Airflow main's configs_file_path): like variables, but a
 * list value in any format must have exactly one element, which is unwrapped.
 */
export function parseConfigFile(fileName: string, content: string): Map<string, unknown> {
  const { entries } = parseSecretFile(fileName, content);
  const invalid = entries.filter(([, v]) => Array.isArray(v) && v.length !== 1).map(([k]) => k);
  if (invalid.length > 0) {
    throw new FileParseError('variable_not_unique', `The "${fileName}" file contains multiple values for keys: ${pyListRepr(invalid)}`);
  }
  return stringKeyed(entries.map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
}

function stringKeyed(entries: Array<[YamlKey, unknown]>): Map<string, unknown> {
  return new Map(entries.filter((e): e is [string, unknown] => typeof e[0] === 'string'));
}

// get_connection_parameter_names() | {"extra_dejson"} for apache-airflow 3.3.2.
const CONNECTION_DICT_KEYS = [
  'conn_id',
  'conn_type',
  'description',
  'host',
  'login',
  'password',
  'schema',
  'port',
  'extra',
  'uri',
  'team_name',
  'extra_dejson',
];

/** _create_connection: a str is a URI, a dict is Connection(**value). */
function createConnection(key: YamlKey, value: unknown): Connection {
  const connId = keyText(key);
  if (typeof value === 'string') return connectionFromUri(connId, value);
  if (value instanceof Map) {
    const fields = new Map<string, unknown>(value as Map<string, unknown>);
    const illegal = [...fields.keys()].filter((k) => !CONNECTION_DICT_KEYS.includes(k));
    if (illegal.length > 0) {
      // Airflow joins a set here, so its key order varies between runs; this keeps the file's order.
      throw new FileParseError(
        'illegal_keys',
        `The object have illegal keys: ${illegal.join(', ')}. The dictionary can only contain the following keys: ${CONNECTION_DICT_KEYS.join(', ')}`,
      );
    }
    if (fields.has('extra') && fields.has('extra_dejson')) {
      throw new FileParseError('extra_and_extra_dejson', 'The extra and extra_dejson parameters are mutually exclusive. Please provide only one parameter.');
    }
    if (fields.has('extra_dejson')) {
      let dumped: string;
      try {
        dumped = pythonJsonDumps(fields.get('extra_dejson'));
      } catch {
        throw new FileParseError('invalid_extra', `The extra_dejson of connection ${connId} cannot be serialized as JSON.`);
      }
      fields.delete('extra_dejson');
      fields.set('extra', dumped);
    }
    if (fields.has('conn_id')) {
      const given = fields.get('conn_id');
      if (given !== key) {
        throw new FileParseError(
          'conn_id_mismatch',
          `Mismatch conn_id. The dictionary key has the value: ${typeof given === 'string' ? given : pyTypeName(given)}. The item has the value: ${connId}.`,
        );
      }
      fields.delete('conn_id');
    }
    // team_name is accepted by Connection() in 3.3.2; the gateway's Connection has no such field.
    fields.delete('team_name');
    return connectionFromFields(connId, fields);
  }
  throw new FileParseError(
    'unexpected_value_type',
    `Unexpected value type: <class '${pyTypeName(value)}'>. The connection can only be defined using a string or object.`,
  );
}

/**
 * load_connections_dict. `.env` values are always URIs; a one-element list is
 * unwrapped, a longer one is ConnectionNotUnique, an empty one gives no entry.
 * A connection whose fields Airflow rejects raises ConnectionFormatError.
 */
export function parseConnectionsFile(fileName: string, content: string): Map<string, Connection> {
  const { entries } = parseSecretFile(fileName, content);
  const connections = new Map<string, Connection>();
  for (const [key, value] of entries) {
    const values = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) && value.length > 1) {
      throw new FileParseError('connection_not_unique', `Found multiple values for ${keyText(key)} in ${fileName}.`);
    }
    for (const v of values) {
      const conn = createConnection(key, v);
      // A non-str key (e.g. YAML `123:`) is built, so its errors count, but Airflow
      // can never look it up by a str conn_id.
      if (typeof key === 'string') connections.set(key, conn);
    }
  }
  return connections;
}
