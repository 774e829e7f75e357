// The Action's entry: nothing but the call to run(); main.ts is the composition root.
import { run } from './main.ts';

await run();
