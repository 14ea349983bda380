// One wait-policy probe in a process of its own (see wait-policy.ts): prints each workload's median ms.
import { waitPolicyProbe } from './wait-policy.js';

console.log(JSON.stringify(waitPolicyProbe(process.argv[2].split(','), Number(process.argv[3]) || 5)));
