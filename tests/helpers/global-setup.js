/**
 * jest globalSetup: bring dist/ and the widget bundle up to date before any test runs, since the CLI,
 * notebook and widget tests run the compiled code (scripts/lib/build.js, the same check set-up and the
 * CLI make). A build with errors fails the run rather than testing stale code.
 */
const { ensureBuilt } = require('../../scripts/lib/build.js');

module.exports = async function globalSetup() {
  const r = await ensureBuilt({ log: (line) => process.stderr.write(`[jest globalSetup] ${line}\n`) });
  if (!r.ok) throw new Error(`the build failed (tsc: ${r.tsc}, widgets: ${r.widgets}); see the output above`);
};
