// Evaluates a batch of IAM requests with @cloud-copilot/iam-simulate. Reads a JSON array
// of simulations (the package's Simulation shape) on stdin and writes, in the same order,
// a JSON array of {decision, error}: decision is "Allowed", "ImplicitlyDenied",
// "ExplicitlyDenied", or "Invalid" when the evaluator refused the request itself (an
// action that does not apply to the resource's type, an unknown condition key, ...).
const { runSimulation } = require('@cloud-copilot/iam-simulate');

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const simulations = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const out = [];
  for (const s of simulations) {
    try {
      const r = await runSimulation(s, {});
      if (r.resultType === 'error') {
        out.push({ decision: 'Invalid', error: JSON.stringify(r.errors) });
      } else {
        out.push({ decision: r.overallResult });
      }
    } catch (e) {
      out.push({ decision: 'Invalid', error: String(e && e.stack || e) });
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
