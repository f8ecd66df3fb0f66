/**
 * Run by infra/check-stage-config.cjs before `serverless package` and `serverless deploy`: each
 * function's resolved environment (JSON `{function: {VAR: value}}` on stdin) goes through the
 * checks the function itself makes at cold start (`loadConfig`, the mapping file), so a stage
 * parameter the functions would refuse stops the deploy instead of every invocation.
 * Prints one line per problem (with the functions it concerns) on stderr and exits 1 if any.
 */
import { readFileSync } from 'node:fs';
import { normalize } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { loadMappingConfig } from '../../lib/sources/mapping-config.js';

/** The problems of one function's environment (values given as CloudFormation references are skipped). */
export function checkFunctionEnvironment(env: Record<string, string>): string[] {
  const problems: string[] = [];
  try {
    loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  const file = env.MAPPINGS_FILE?.trim();
  if (file === undefined || file === '') return problems;
  // Only mappings/*.json is packaged (serverless.yml `package.patterns`), and Lambda reads the
  // path relative to the function's directory.
  if (!/^mappings\/[^/]+\.json$/.test(normalize(file))) {
    return [...problems, `MAPPINGS_FILE: must be a file in mappings/ (mappings/<name>.json), got ${file}`];
  }
  try {
    loadMappingConfig(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  return problems;
}

/** Every problem once, with the functions whose environment has it. */
export function checkStageEnvironments(environments: Record<string, Record<string, string>>): string[] {
  const byProblem = new Map<string, string[]>();
  for (const [name, env] of Object.entries(environments)) {
    for (const problem of checkFunctionEnvironment(env)) {
      byProblem.set(problem, [...(byProblem.get(problem) ?? []), name]);
    }
  }
  return [...byProblem].map(([problem, names]) => `${problem} (${names.join(', ')})`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const problems = checkStageEnvironments(JSON.parse(readFileSync(0, 'utf8')));
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  process.exitCode = problems.length > 0 ? 1 : 0;
}
