import { MemoryStore } from '../../src/store/memory.ts';
import { describeStoreContract } from './contract.ts';

describeStoreContract('MemoryStore', async (limits) => new MemoryStore(limits));
