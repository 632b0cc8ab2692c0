export {
  startApache,
  freePort,
  type PrivateApache as TestApache
} from '../../src/demo/private-apache.js'
