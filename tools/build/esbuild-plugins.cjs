// esbuild plugins shared by `serverless package` (serverless.yml custom.esbuild.plugins) and
// `npm run bench:cold-start`, so the benchmark measures exactly what is deployed.
// CommonJS because serverless-esbuild loads this file with require().
const fs = require('node:fs');
const path = require('node:path');

// zod 4's `z` namespace re-exports every locale (`z.locales`), and a namespace import cannot be
// tree-shaken: about 250 KB of minified error messages in 40 languages, in every bundle. English
// is registered directly by zod's own schemas; no code here calls `z.config(z.locales.xx())`.
// This keeps `z.locales.en` and drops the rest.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)) return undefined;
      return {
        path: path.join(path.dirname(args.importer), '..', 'locales', 'index.js'),
        namespace: 'zod-locales',
      };
    });
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: "export { default as en } from './en.js';",
      loader: 'js',
      resolveDir: path.dirname(args.path),
    }));
  },
};

// libphonenumber-js's `min` metadata (~80 KB) is an ES module exporting an object literal. V8
// parses and builds a large object literal more slowly than JSON.parse of the same text as a
// string (measured: ~1 ms less CPU per cold start), so the module is replaced by
// `export default JSON.parse('<the package's metadata.min.json>')`: the same object.
const phoneMetadataAsJson = {
  name: 'libphonenumber-metadata-json-parse',
  setup(build) {
    build.onLoad({ filter: /[\\/]libphonenumber-js[\\/]metadata\.min\.json\.js$/ }, (args) => {
      const json = fs.readFileSync(path.join(path.dirname(args.path), 'metadata.min.json'), 'utf8');
      // Re-serialised so the string holds exactly one line of valid JSON.
      return {
        contents: `export default JSON.parse(${JSON.stringify(JSON.stringify(JSON.parse(json)))});`,
        loader: 'js',
      };
    });
  },
};

// Every classic zod schema carries `.toJSONSchema()` and `['~standard'].jsonSchema`, so zod's JSON
// Schema generator (core/to-json-schema.js and core/json-schema-processors.js, ~17 KB minified)
// is in every bundle although no function ever converts a schema to JSON Schema. V8 parses all
// shipped code at load (measured: ~1.2 ms less CPU per cold start without it). Each export
// becomes a stub with the same name that throws when called, so parsing, issues and
// `['~standard'].validate` are untouched and a JSON Schema call fails loudly instead of silently.
// The export list is read from zod's own module, so a zod upgrade cannot leave an import unmet.
const JSON_SCHEMA_UNBUNDLED =
  'zod JSON Schema generation is left out of the Lambda bundles (tools/build/esbuild-plugins.cjs)';
const zodWithoutJsonSchema = {
  name: 'zod-without-json-schema',
  setup(build) {
    build.onLoad(
      { filter: /[\\/]zod[\\/]v4[\\/]core[\\/](to-json-schema|json-schema-processors)\.js$/ },
      (args) => {
        const source = fs.readFileSync(args.path, 'utf8');
        const names = new Set();
        for (const m of source.matchAll(
          /^export (?:async )?(?:function\*?|const|let|var|class) ([\w$]+)/gm,
        )) {
          names.add(m[1]);
        }
        for (const m of source.matchAll(/^export \{([^}]*)\}/gm)) {
          for (const part of m[1].split(',')) {
            const name = part
              .trim()
              .split(/\s+as\s+/)
              .pop();
            if (name) names.add(name);
          }
        }
        if (/^export (?:default|\*)/m.test(source)) {
          throw new Error(
            `zod-without-json-schema: unexpected export form in ${args.path}; update the plugin`,
          );
        }
        const stubs = [...names].map((name) =>
          // The `create*Method` factories run when `~standard` is read: they must return, not throw.
          /^create\w*Method$/.test(name)
            ? `export const ${name} = () => unavailable;`
            : `export const ${name} = unavailable;`,
        );
        return {
          contents: `function unavailable() { throw new Error(${JSON.stringify(JSON_SCHEMA_UNBUNDLED)}); }\n${stubs.join('\n')}\n`,
          loader: 'js',
        };
      },
    );
  },
};

module.exports = [zodEnglishOnly, phoneMetadataAsJson, zodWithoutJsonSchema];
