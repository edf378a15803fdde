import { InProcessLocks } from '../../../src/engine/position/locks.js';
import { locksContract } from './locks.contract.js';

locksContract('InProcessLocks (one process)', () => {
  const locks = new InProcessLocks();
  return Promise.resolve([locks, locks]);
});
