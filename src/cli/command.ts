/**
 * How to run the qasynth CLI in a message that tells the user what to type next ("stop it with …"). `qasynth`
 * is on the PATH only after `npm link` (or a global install); otherwise the README's form,
 * `node bin/qasynth.js …`, is what works (with the path relative to the current folder).
 */
import path from 'node:path';
import { projectRoot } from '../server/temporal-cli';

/**
 * `qasynth` when this process was started through a `qasynth` on the PATH (npm link's symlink has no `.js`),
 * else `node <path of bin/qasynth.js relative to cwd>` (absolute when that is shorter to read: outside the tree).
 */
export function cliCommand(argv1: string | undefined = process.argv[1], cwd = process.cwd(), root = projectRoot()): string {
  if (argv1 && path.basename(argv1) === 'qasynth') return 'qasynth';
  const bin = path.join(root, 'bin', 'qasynth.js');
  const rel = path.relative(cwd, bin);
  return `node ${rel.startsWith(`..${path.sep}..`) ? bin : rel}`;
}
