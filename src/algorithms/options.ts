// The command-line side of the registry: `--algo` and the flags of every algorithm's
// hyperparameters, grouped in --help by the algorithms they belong to.
import { Option } from 'commander';
import { commonSchema, optionsFromSchemas } from '../config.js';
import { listWords } from '../util/words.js';
import { ALGOS, type Algo, algorithm, algorithms, algorithmsWithSetting, DEFAULT_ALGO } from './registry.js';

/** The --help heading of the settings every algorithm has. */
export const COMMON_OPTIONS_HEADING = 'Run options (every algorithm):';

/** The --help heading of the flags that belong to `names` only. */
export function algorithmOptionsHeading(names: readonly Algo[]): string {
  const titles = names.map((n) => algorithm(n).title);
  return `${listWords(titles, 'and')} options (--algo ${listWords(names, 'or')}):`;
}

/** `--algo`, listing each algorithm with its one-line description. */
export function algoOption(): Option {
  const list = algorithms()
    .map((a) => `${a.name}: ${a.description}`)
    .join('; ');
  return new Option('--algo <name>', `algorithm (default "${DEFAULT_ALGO}"): ${list}`).choices([...ALGOS]);
}

/**
 * The flags of every field of a run configuration: the common settings, then each algorithm's
 * hyperparameters (a field several algorithms share is one flag listing each default), each in
 * the --help group of the algorithms it belongs to.
 */
export function runConfigOptions(): Option[] {
  const options = optionsFromSchemas([
    { schema: commonSchema },
    ...algorithms().map((a) => ({ schema: a.hyperparameters, note: `for ${a.name}` })),
  ]);
  for (const option of options) {
    const key = option.attributeName(); // --no-life-loss: lifeLoss
    const owners = key in commonSchema.shape ? [] : algorithmsWithSetting(key);
    option.helpGroup(owners.length ? algorithmOptionsHeading(owners) : COMMON_OPTIONS_HEADING);
  }
  return options;
}
