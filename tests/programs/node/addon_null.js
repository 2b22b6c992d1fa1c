'use strict';
// A native addon's NULL dereference under a JS call (the addon's path is argv[2]).
const addon = { exports: {} };
process.dlopen(addon, process.argv[2]);

function lookup(key) {
  return addon.exports.crash(key);
}

lookup('k');
