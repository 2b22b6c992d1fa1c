'use strict';
// An async function whose rejection nobody handles: Node's fatal path, after the thrower
// has left the stack.
async function fetchUser(id) {
  await null;
  throw new Error(`user ${id} not found`);
}

async function main() {
  const user = await fetchUser(7);
  return user.name;
}

main();
