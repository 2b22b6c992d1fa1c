'use strict';
// A thrown plain object.
function validate(order) {
  if (!order.id) {
    throw { code: 'E_NO_ID', order };
  }
}

validate({ qty: 3 });
