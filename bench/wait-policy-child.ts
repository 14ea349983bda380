// One wait-policy probe in a process of its own (see wait-policy.ts): prints [ms, ms, ms].
import { waitPolicyProbe } from './wait-policy.js';

console.log(JSON.stringify(waitPolicyProbe(Number(process.argv[2]) || 5)));
