/**
 * The product version sent in `User-Agent`. Kept here, not read from package.json, so the
 * whole package.json (scripts, dependency list) is not bundled into deployed code; a unit test
 * keeps the two equal.
 */
export const PACKAGE_VERSION = '0.1.0';
