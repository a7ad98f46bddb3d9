/** RunInstances, DescribeInstances, Start/Stop/Reboot/Terminate and the instance attributes (see instances/). */
export { handlers } from './instances/index.js';
