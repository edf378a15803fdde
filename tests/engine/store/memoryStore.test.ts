import { MemoryStore } from '../../../src/engine/store/memoryStore.js';
import { storeContract } from './store.contract.js';

storeContract('MemoryStore', async () => new MemoryStore());
