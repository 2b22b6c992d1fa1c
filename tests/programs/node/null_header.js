'use strict';
// An engine TypeError three calls deep: reading a property of null.
function parseHeader(line) {
  return line.trim().split(':');
}

function handle(request) {
  const [name, value] = parseHeader(request.header);
  return { name, value };
}

function main() {
  const requests = [{ header: 'Host: example.com' }, { header: null }];
  return requests.map((r) => handle(r));
}

main();
