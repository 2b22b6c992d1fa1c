'use strict';
// A thrown Error subclass from a class method, called from a callback.
class Cart {
  constructor(items) {
    this.items = items;
  }

  total() {
    let sum = 0;
    for (const item of this.items) {
      if (item.price < 0) {
        throw new RangeError(`negative price for ${item.name}: ${item.price}`);
      }
      sum += item.price;
    }
    return sum;
  }
}

function checkout(items) {
  return new Cart(items).total();
}

setTimeout(function onTimer() {
  checkout([{ name: 'pen', price: 2 }, { name: 'ink', price: -1 }]);
}, 1);
