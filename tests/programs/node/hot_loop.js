'use strict';
// A caller compiled by Turbofan (forced with natives syntax: run with --allow-natives-syntax)
// calling an interpreted function that throws: the caller's frame is JIT code, `??` natively.
function scale(value) {
  if (value === 4999) {
    throw new RangeError(`value out of range: ${value}`);
  }
  return value * 2;
}

function sumAll(count) {
  let sum = 0;
  for (let i = 0; i < count; i++) {
    sum += scale(i);
  }
  return sum;
}

%NeverOptimizeFunction(scale);
%PrepareFunctionForOptimization(sumAll);
sumAll(10);
sumAll(10);
%OptimizeFunctionOnNextCall(sumAll);
sumAll(10000);
