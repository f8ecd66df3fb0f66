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

module.exports = [zodEnglishOnly, phoneMetadataAsJson];
