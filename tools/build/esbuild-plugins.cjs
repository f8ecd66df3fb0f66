// esbuild plugins shared by `serverless package` (serverless.yml custom.esbuild.plugins) and
// `npm run bench:cold-start`, so the benchmark measures exactly what is deployed.
// CommonJS because serverless-esbuild loads this file with require().
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

module.exports = [zodEnglishOnly];
