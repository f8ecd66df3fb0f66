// esbuild plugins shared by `serverless package` (serverless.yml custom.esbuild.plugins) and
// `npm run bench:cold-start`, so the benchmark measures exactly what is deployed.
// (zod needs none: the code imports zod/mini through lib/zod.ts, whose unused parts, the other
// locales and the JSON Schema generator included, esbuild drops by itself. The bundle-contents
// test, test/unit/tools/build/bundle-contents.test.ts, keeps it that way.)
// CommonJS because serverless-esbuild loads this file with require().
const fs = require('node:fs');
const path = require('node:path');

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

module.exports = [phoneMetadataAsJson];
