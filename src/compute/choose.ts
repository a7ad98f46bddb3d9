/**
 * The compute driver the server runs. `--driver sim` never loads the ns driver's modules (the ns
 * driver, the network controller, the image builders): a sim server holds none of their code.
 * `ns` and `auto` are chosen in ns/setup.ts.
 */
import type { Config } from '../config.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { ChosenDriver } from './ns/setup.js';
import { SimDriver } from './sim.js';

export async function chooseDriver(config: Config, clock: Clock, log: (line: string) => void, store: Store): Promise<ChosenDriver> {
  if (config.driver === 'sim') {
    log('nimbus: compute driver sim (asked for with --driver sim)');
    return { driver: new SimDriver(clock, config.sim) };
  }
  const { chooseNsOrSim } = await import('./ns/setup.js');
  return chooseNsOrSim(config, clock, log, store);
}
