// A local serverless plugin (serverless.yml `plugins`): before `package` (and so before every
// `deploy`), each function's resolved environment goes through the checks the function makes
// at cold start (tools/build/check-stage-config.ts runs lib/config.ts and the mapping file
// loader). A stage parameter the functions would refuse, e.g. `--param defaultPhoneRegion=usa`
// or a mapping file that is missing or invalid, then stops the deploy with the reason instead
// of failing every invocation after it.

const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** The string-valued variables of each function (CloudFormation references are left out). */
function environments(service) {
  const result = {};
  for (const [name, definition] of Object.entries(service.functions ?? {})) {
    const env = { ...(service.provider?.environment ?? {}), ...(definition.environment ?? {}) };
    result[name] = Object.fromEntries(
      Object.entries(env)
        .filter(([, value]) => typeof value === 'string' || typeof value === 'number')
        .map(([key, value]) => [key, String(value)]),
    );
  }
  return result;
}

class CheckStageConfig {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:cleanup': () => this.check() };
  }

  check() {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'tools', 'build', 'check-stage-config.ts')],
      { cwd: ROOT, input: JSON.stringify(environments(this.serverless.service)), encoding: 'utf8' },
    );
    if (run.status === 0) return;
    const reason = (run.stderr || String(run.error ?? 'no output')).trim();
    throw new this.serverless.classes.Error(
      `The stage configuration would fail at cold start; fix these parameters:\n${reason}`,
    );
  }
}

module.exports = CheckStageConfig;
module.exports.environments = environments;
