// `npm run demo`: the whole loop on a local world, narrated; exit 0 only when every step was verified.
// `--keep` leaves everything running and prints the status pages and kubeconfigs.
import { runScenario } from './scenario.ts';

const keep = process.argv.includes('--keep');
const t = performance.now();
try {
  const { steps, running } = await runScenario({ keep });
  console.log(`\nAll ${steps.length} steps verified in ${((performance.now() - t) / 1000).toFixed(1)} s.`);
  if (running) {
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await running.stop();
  }
  process.exit(0);
} catch (err) {
  console.error(`\n✗ ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
