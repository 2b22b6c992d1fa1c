'use strict';
// A thrown non-Error value: a plain string.
function loadConfig(path) {
  if (!path.endsWith('.json')) {
    throw 'config must be a .json file, got ' + path;
  }
  return {};
}

loadConfig('/etc/app/config.yaml');
