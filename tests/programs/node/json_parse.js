'use strict';
// JSON.parse's SyntaxError, from a timer callback: the error's position is in the JSON text.
function onTick() {
  return JSON.parse('{bad json');
}

setTimeout(onTick, 1);
