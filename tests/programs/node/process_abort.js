'use strict';
// A native abort from JS (process.abort()): not an uncaught exception.
function shutdown(reason) {
  if (reason === 'fatal') {
    process.abort();
  }
}

shutdown('fatal');
